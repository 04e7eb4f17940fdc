"""The backlog commands as a user meets them: tables, counts, one-line errors."""

from __future__ import annotations

from click.testing import CliRunner
from helpers_backlog import post

from cli import main


def _write(tmp_path, *lines):
    path = tmp_path / "posts.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_then_search_prints_a_table_most_urgent_first(backlog, tmp_path):
    import json

    path = _write(
        tmp_path,
        json.dumps(post(1, urgency="normal", text="需要蔬菜 电话13800001111"), ensure_ascii=False),
        "{broken",
        json.dumps(post(2, urgency="critical", text="呼吸困难 急需床位"), ensure_ascii=False),
    )
    runner = CliRunner()
    loaded = runner.invoke(main, ["load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "3 lines: 2 new" in loaded.output
    assert "line 2: not JSON" in loaded.output
    backlog.refresh()
    searched = runner.invoke(main, ["search", "--district", "江岸区"])
    assert searched.exit_code == 0, searched.output
    rows = searched.output.splitlines()
    assert rows[0].split()[:3] == ["urgency", "posted", "district"]
    assert rows[1].startswith("critical") and rows[2].startswith("normal")
    assert "2 requests in 2 clusters match." in searched.output
    assert "13800001111" not in searched.output and "138****" in searched.output


def test_search_refuses_a_bad_date_in_one_line(backlog):
    result = CliRunner().invoke(main, ["search", "--since", "yesterday-ish"])
    assert result.exit_code == 2
    assert "Error: --since 'yesterday-ish' is not a date" in result.output
    assert "Traceback" not in result.output


def test_commands_say_clearly_when_elasticsearch_is_down(monkeypatch, tmp_path):
    monkeypatch.setenv("QIUZHU_ES_URLS", "http://127.0.0.1:9")
    monkeypatch.setenv("QIUZHU_ES_REQUEST_TIMEOUT", "2")
    path = _write(tmp_path, '{"id": "1", "text": "x"}')
    for args in (["search", "床位"], ["load", str(path)], ["index", "status"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 3, (args, result.output)
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("Error: Elasticsearch did not answer at http://127.0.0.1:9")
        assert "qiuzhu es start" in lines[-1]
        assert "Traceback" not in result.output


def test_every_command_has_full_sentence_help():
    import click

    def walk(command, path):
        yield path, command
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    for path, command in walk(main, []):
        help_text = (command.help or "").strip()
        assert help_text.endswith("."), f"qiuzhu {' '.join(path)} needs full-sentence help"
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in ("help", "version"):
                assert (param.help or "").strip().endswith("."), (path, param.name)
