"""Passwords of storage URLs never reach the terminal or a file: `recsearch.redact.redact` and its users."""

from __future__ import annotations


import pytest

from recsearch.cli import main
from recsearch.redact import redact


@pytest.mark.parametrize("text, shown", [
    ("postgresql://u:secret@127.0.0.1:1/db", "postgresql://u:***@127.0.0.1:1/db"),
    ("postgresql+psycopg://u:s%40cret@db.example:5432/x?sslmode=require",
     "postgresql+psycopg://u:***@db.example:5432/x?sslmode=require"),
    ("mysql://root:secret@host/db", "mysql://root:***@host/db"),
    ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),  # an unescaped '@' in the password
    ("cannot open postgresql://u:secret@h/db: connection refused", "cannot open postgresql://u:***@h/db: connection refused"),
    ("storage: postgresql://a:secret@h/db\nother: mysql://b:secret@h2/db2\n",
     "storage: postgresql://a:***@h/db\nother: mysql://b:***@h2/db2\n"),
    ("search.storage='postgresql://u:secret@h/db'", "search.storage='postgresql://u:***@h/db'"),
    ("postgresql://u@h:1/db?password=secret", "postgresql://u@h:1/db?password=***"),  # libpq's query form
    ("postgresql://u@h/db?sslmode=require&PASSWORD=secret&x=1", "postgresql://u@h/db?sslmode=require&PASSWORD=***&x=1"),
    ("error: cannot open mysql://u@h/db?passwd=secret: refused",
     "error: cannot open mysql://u@h/db?passwd=***: refused"),
    ("mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC+18%7D%3BUID%3Du%3BPWD%3Dsecret%3BEncrypt%3Dyes",  # escaped
     "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC+18%7D%3BUID%3Du%3BPWD%3D***%3BEncrypt%3Dyes"),
    ("mssql+pyodbc:///?odbc_connect=SERVER=h;Pwd={se;cret};UID=u",
     "mssql+pyodbc:///?odbc_connect=SERVER=h;Pwd=***;UID=u"),
])
def test_passwords_are_masked(text, shown) -> None:
    assert redact(text) == shown and "secret" not in redact(text) and "p@ss" not in redact(text)


@pytest.mark.parametrize("text", ["sqlite:///results/study.db", "postgresql://u@h/db", "results/default/mlp-rating",
                                  "no url here", ""])
def test_text_without_password_is_unchanged(text) -> None:
    assert redact(text) == text


def test_storage_re_exports_the_one_redact() -> None:
    from recsearch.search import storage

    assert storage.redact is redact


URLS = ["postgresql://u:secret@127.0.0.1:1/db", "'postgresql://u@127.0.0.1:1/db?password=secret'"]


@pytest.mark.parametrize("url", URLS)
def test_error_lines_are_redacted(url, capsys) -> None:
    code = main(["sweep", f"search.storage={url}", "search.n_trials=1"])  # port 1: refused at once
    err = capsys.readouterr().err
    assert code == 2 and "secret" not in err and "***" in err and "cannot open" in err
    assert "search.storage postgresql://u" in err  # the setting that holds the URL


def test_a_url_given_to_a_reader_is_named_as_the_argument(capsys) -> None:
    """`leaderboard URL` said `search.storage`, a setting the command was never given."""
    assert main(["leaderboard", URLS[0]]) == 2
    err = capsys.readouterr().err
    assert "recsearch: error: storage postgresql://u:***@" in err and "search.storage" not in err
    assert err.rstrip().endswith("check that the database server is running and that the URL's host and port "
                                 "reach it")


@pytest.mark.parametrize("url", URLS)
def test_config_show_hides_the_password(url, capsys) -> None:
    assert main(["config", "show", f"search.storage={url}"]) == 0
    out = capsys.readouterr().out
    assert redact(url.strip("'")) in out and "secret" not in out
