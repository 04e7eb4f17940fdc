"""`qiuzhu analyze`, `qiuzhu eval` and `qiuzhu eval-masking`: the NLP stage on JSONL files."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import IO

import click


@click.command("analyze")
@click.argument("posts", type=click.File("r", encoding="utf-8"), default="-")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="Write the analysed posts to this file instead of standard output.",
)
def analyze_command(posts: IO[str], output: IO[str]) -> None:
    """Analyse JSONL posts (a file, or standard input) and write one JSON object a line.

    Each input object needs `id` and `text`; the output adds kind, needs, urgency,
    place, cluster and personal-data fields. A malformed line gives an error object.
    """
    from classify.analyze import analyze_stream

    for line in analyze_stream(posts):
        output.write(line + "\n")


@click.command("eval")
@click.option(
    "--gold",
    "gold",
    required=True,
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read labels from this JSONL file (one object a line with `id`, matched to the "
    "posts by id); repeat to score several label files together.",
)
@click.option(
    "--posts",
    "posts",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the posts to analyse from this JSONL file (every labelled id must be here).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the metrics as one JSON object instead of tables.",
)
@click.option(
    "--folds",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also print the metrics of this many fixed folds of the labels (by a hash of the id).",
)
def eval_command(gold: tuple[Path, ...], posts: Path, as_json: bool, folds: int) -> None:
    """Analyse labelled posts and print needs, kind, urgency, place and duplicate metrics."""
    from classify.evaluate import evaluate, format_report

    result = evaluate(gold, posts, folds)
    if as_json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        click.echo()
    else:
        click.echo(format_report(result))


@click.command("eval-masking")
@click.argument("labelled", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--misses",
    is_flag=True,
    help="Also list every name left unmasked, place masked and unlabelled name found, by "
    "post id (the labelled strings, not the posts' text).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def eval_masking_command(labelled: Path, misses: bool, as_json: bool) -> None:
    """Measure the masking of names on labelled invented posts (JSONL: id, text, names,
    titles, keep): the share of names and titles masked and of places kept."""
    from classify.evaluate import read_jsonl
    from classify.masking_eval import evaluate_masking, format_masking

    result = evaluate_masking(read_jsonl(labelled))
    if as_json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        click.echo()
    else:
        click.echo(format_masking(result, misses))


COMMANDS = (analyze_command, eval_command, eval_masking_command)
