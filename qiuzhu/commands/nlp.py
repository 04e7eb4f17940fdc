"""`qiuzhu analyze`, `qiuzhu eval` and `qiuzhu eval-masking`: the NLP stage on JSONL files."""

from __future__ import annotations

import json
import sys
from collections import Counter
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
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Score these labels (JSONL, one object a line with `id`, matched to --posts by id) "
    "instead of the training config's corpora; repeat to score several label files together.",
)
@click.option(
    "--posts",
    "posts",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --gold: read the posts to analyse from this JSONL file.",
)
@click.option(
    "--split",
    type=click.Choice(["test", "validation", "train"]),
    default="test",
    show_default=True,
    help="Score each corpus of the training config on this split (test is the frozen one).",
)
@click.option(
    "--corpus",
    "corpora",
    multiple=True,
    help="Score only this corpus of the training config (repeat for several; default all).",
)
@click.option(
    "--rules",
    is_flag=True,
    help="Decide kind, needs and urgency by the cue rules alone, the baseline of the model.",
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
    help="With --gold: also print the metrics of this many fixed folds (by a hash of the id).",
)
def eval_command(
    gold: tuple[Path, ...],
    posts: Path | None,
    split: str,
    corpora: tuple[str, ...],
    rules: bool,
    as_json: bool,
    folds: int,
) -> None:
    """Analyse labelled posts and print needs, kind, urgency, place and duplicate metrics.

    By default every corpus of classify/training/config.cfg is scored on its frozen test
    split, one report per crisis; --gold and --posts score any labelled file instead.
    """
    from classify.corpus import read_config
    from classify.evaluate import evaluate, evaluate_corpus, format_report

    if gold or posts:
        if not (gold and posts):
            raise click.UsageError("give --gold and --posts together")
        results = {str(posts): evaluate(gold, posts, folds, rules=rules)}
    else:
        config = read_config()
        names = corpora or tuple(c.name for c in config.corpora)
        results = {name: evaluate_corpus(config.corpus(name), split, rules=rules) for name in names}
    if as_json:
        # Labels given: one result, as before; the config's corpora: one per corpus.
        json.dump(
            results[str(posts)] if gold else results, sys.stdout, ensure_ascii=False, indent=2
        )
        click.echo()
        return
    for name, result in results.items():
        click.echo(f"== {name} ({split if not gold else 'labels given'}) ==")
        click.echo(format_report(result))
        click.echo()


@click.command("train")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read this training config instead of classify/training/config.cfg.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the artefact here instead of where the config says.",
)
@click.option(
    "--validate-only",
    is_flag=True,
    help="Fit on the train split and print validation figures only: no artefact, no test "
    "figures (the loop for improving features and rules).",
)
@click.option(
    "--with-corrections",
    is_flag=True,
    help="Add the dispatchers' kept corrections (the backlog's labels index) to the "
    "training data; the artefact becomes a candidate under VAR_DIR/models that an admin "
    "promotes.",
)
def train_command(
    config_path: Path | None, output: Path | None, validate_only: bool, with_corrections: bool
) -> None:
    """Train the classifier from the labelled corpora and write its artefact.

    Fits on train, chooses and calibrates on validation, refits on both, and prints the
    figures of the artefact on each corpus's frozen test split. Same inputs, same bytes.
    """
    from classify.evaluate import format_report
    from classify.train import train

    extra = _corrections() if with_corrections else []
    candidate = with_corrections and output is None and not validate_only
    if candidate:
        from classify import registry

        output = registry.folder() / "candidate.zip"
    report = train(config_path, output, validate_only=validate_only, extra=extra, say=click.echo)
    if candidate and "sha256" in report:
        named = Path(report["artefact"]).with_name(f"model-{report['sha256'][:12]}.zip")
        Path(report["artefact"]).replace(named)
        report["artefact"] = str(named)
        click.echo(f"candidate {named.name}: an admin promotes it (admin page, Models)")
    click.echo(f"regularisation {report['c']}")
    click.echo("thresholds " + ", ".join(f"{k} {v}" for k, v in report["thresholds"].items()))
    for split in ("validation", "test"):
        for name, result in report.get(split, {}).items():
            click.echo(f"== {name} ({split}) ==")
            click.echo(format_report(result))
            click.echo()
    if "artefact" in report:
        click.echo(f"wrote {report['artefact']} (sha256 {report['sha256'][:16]})")


def _corrections() -> list:
    """Return the kept corrections as training examples (their text read from the backlog)."""
    from classify import teaching
    from index import corrections
    from index.client import make_client, require
    from index.mapping import names

    client = make_client()
    require(client)
    where = names()
    kept = corrections.labels(client, where)
    found = teaching.examples(kept, corrections.posts_of(client, where, kept))
    splits = Counter(example.split for example in found)
    click.echo(
        f"{len(found)} of {len(kept)} corrections join the training data "
        f"(train {splits['train']}, validation {splits['validation']})"
    )
    return found


@click.command("agreement")
@click.argument(
    "first", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--second",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the second labeller's labels (JSONL) from this file.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def agreement_command(first: tuple[Path, ...], second: Path, as_json: bool) -> None:
    """Print how far two labellers agree, field by field (Cohen's kappa), matched by post id.

    FIRST are the first labeller's label files (several may be given).
    """
    from classify.agreement import agreement_files, format_agreement

    result = agreement_files(first, second)
    if as_json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        click.echo()
    else:
        click.echo(format_agreement(result))


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


@click.group("models")
def models_group() -> None:
    """The trained classifiers: which one analysis uses, and promoting or restoring one."""


@models_group.command("list")
def models_list() -> None:
    """Print the current model, the previous one and the candidates, with their figures."""
    from classify import registry

    chosen = registry.names()
    for name in dict.fromkeys([chosen["current"], *registry.candidates()]):
        described = registry.describe(registry.path_of(name))
        mark = "*" if name == chosen["current"] else " "
        figures = "  ".join(
            f"{corpus} {f.get('needs_micro_f1', 0):.3f}" for corpus, f in described["test"].items()
        )
        click.echo(f"{mark} {name:<26} corrections {described['corrections']:<5} {figures}")
    if chosen["previous"]:
        click.echo(f"previous: {chosen['previous']} (`qiuzhu models restore` goes back to it)")


@models_group.command("promote")
@click.argument("name")
def models_promote(name: str) -> None:
    """Use the candidate NAME from the next ingestion run on."""
    from classify import registry

    registry.promote(name)
    click.echo(f"analysis uses {name} from the next run on (the previous can be restored)")


@models_group.command("restore")
def models_restore() -> None:
    """Go back to the model used before the last promotion."""
    from classify import registry

    now = registry.restore()
    click.echo(f"analysis uses {now['current']} from the next run on")


COMMANDS = (
    analyze_command,
    eval_command,
    train_command,
    agreement_command,
    eval_masking_command,
    models_group,
)
