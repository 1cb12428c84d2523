"""`bench`: the project's whole command-line surface.

Sub-commands live in their own modules and are imported only when used, so `bench --help` stays fast
(no torch import) and each stage owns its command next to its code. `UserError` anywhere becomes one
line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from dataset_tools.errors import UserError

# name -> ("module:attribute", one-line help). Order is the order `bench --help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "build-dataset": ("dataset_tools.build_cli:build_dataset", "Build iPanda-50-occlusion (or an occlusion benchmark from any source)."),
    "occluders": ("dataset_tools.occluders.cli:occluders", "Render a contact sheet of the procedural occluders."),
    "dataset-stats": ("dataset_tools.stats:dataset_stats", "Write a report (markdown and plots) about a built dataset."),
    "methods": ("benchmark.commands:methods", "List the inpainting methods and what they are."),
    "run": ("benchmark.commands:run", "Train (if learnable), inpaint the test split and score one method."),
    "ablation": ("benchmark.commands:ablation", "Train and score the paper's ablations (model1, model2)."),
    "evaluate": ("benchmark.evaluate:evaluate", "Score a folder of predictions with the benchmark's metrics."),
    "inpaint": ("benchmark.inpaint:inpaint", "Inpaint one photo with a trained run."),
    "leaderboard": ("leaderboard.cli:leaderboard", "Render tables, plots and a web page from run folders."),
    "publish": ("dataset_tools.publish:publish", "Export a built dataset to the Hugging Face Hub layout and upload it."),
    "demo": ("benchmark.demo:demo", "Run the whole benchmark end to end on a synthetic dataset (CPU, minutes)."),
    "perf": ("benchmark.perf:perf", "Measure speed and memory against floors measured in the same run."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        target, short_help = COMMANDS[name]
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and module_name.startswith(e.name):
                # The sub-command is planned but not built yet: say so instead of crashing.
                @click.command(name=name, help=short_help + " (not available in this version)")
                def _missing() -> None:
                    raise UserError(f"'bench {name}' is not available in this version of the package")
                return _missing
            raise
        cmd = getattr(module, attr)
        if cmd.short_help is None:
            cmd.short_help = short_help
        return cmd

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ipanda-occlusion-bench")
def cli() -> None:
    """Benchmark for inpainting occluded giant-panda photos (iPanda-50-occlusion).

    Data flows one way: source images -> `bench build-dataset` -> built dataset on disk ->
    `bench run` / `bench evaluate` -> run folders -> `bench leaderboard`.
    """


def main() -> None:
    cli(prog_name="bench")


if __name__ == "__main__":
    sys.exit(main())
