"""CI runs what the README tells a developer CI runs: `.ci/run` calls the README's `make`
commands in the README's order, each under its own ``== make <target>`` heading; `make lint`
runs every check the README names; plain `mypy` checks every module configured strict.

Read from the files (text and TOML), so nothing is run here.
"""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CI_RUN = ROOT / ".ci" / "run"
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
PYPROJECT = ROOT / "pyproject.toml"

# what the README says `make lint` checks, as each appears in the Makefile's lint recipe
LINT_CHECKS = ("ruff check .", "ruff format --check .", "mypy", "-m compileall", "-m pip check")


def ci_make_targets(script: str) -> list[str]:
    """The targets of the `make` commands a shell script runs, in order (comments and echo lines left out)."""
    targets = []
    for line in script.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("echo"):
            continue
        match = re.match(r"^(?:exec\s+)?make\s+([\w-]+)", line)
        if match:
            targets.append(match.group(1))
    return targets


def readme_ci_targets(readme: str) -> list[str]:
    """The `make` targets the README names where it says what CI (`.ci/run`) runs: from that
    mention to the end of its sentence, in their order."""
    about_ci = re.findall(r"`\.ci/run`([^.]*)", readme)
    assert about_ci, "the README does not say what CI (`.ci/run`) runs"
    return re.findall(r"`make ([\w-]+)`", about_ci[0])


def make_recipe(makefile: str, target: str) -> list[str]:
    lines = makefile.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{re.escape(target)}:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def test_the_readers_find_what_they_look_for():
    script = 'echo "== make lint"\nmake lint  # first\n# make bench\nexec make test\n'
    assert ci_make_targets(script) == ["lint", "test"]
    readme = "`make demo`.\n\n`make test-fast` is quick. CI (`.ci/run`) runs `make lint`, then\n"
    readme += "`make test`. Then `make run`."
    assert readme_ci_targets(readme) == ["lint", "test"]
    assert make_recipe("a: b\n\techo 1\n\techo 2\nc:\n\techo 3\n", "a") == ["echo 1", "echo 2"]


def test_ci_runs_the_readmes_commands_in_the_readmes_order():
    said = readme_ci_targets(README.read_text(encoding="utf-8"))
    assert said[:2] == ["lint", "test"], "the README should say CI runs `make lint` before `make test`"
    script = CI_RUN.read_text(encoding="utf-8")
    assert ci_make_targets(script) == said
    for target in said:  # each under its own heading, so a failure in the log is found at once
        assert f'echo "== make {target}"' in script


def test_make_lint_runs_every_check_the_readme_names():
    recipe = "\n".join(make_recipe(MAKEFILE.read_text(encoding="utf-8"), "lint"))
    readme = README.read_text(encoding="utf-8")
    for check in LINT_CHECKS:
        assert check in recipe, f"make lint does not run {check!r}"
        assert check.removeprefix("-m ") in readme, f"the README does not say make lint runs {check!r}"


def test_plain_mypy_checks_every_strict_module():
    mypy = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["mypy"]
    files = mypy.get("files")
    assert files, "pyproject's [tool.mypy] lists no files: a plain `mypy` would check nothing"
    checked = {p.resolve() for pattern in files for p in ROOT.glob(pattern)}
    checked |= {p.resolve() for d in list(checked) if d.is_dir() for p in d.rglob("*.py")}
    strict = [m for o in mypy.get("overrides", []) if o.get("strict") for m in o["module"]]
    assert strict, "no module is configured strict"
    domains = sorted(ROOT.glob("services/*/domain.py"))
    assert domains, "no services/*/domain.py found"
    for path in domains + sorted((ROOT / "shared").rglob("*.py")):
        assert path.resolve() in checked, f"{path.relative_to(ROOT)} is not in [tool.mypy] files"
    for module in strict:
        if "*" in module:
            continue  # shared.* and services.*.domain: the paths above
        path = ROOT / (module.replace(".", "/") + ".py")
        assert path.exists(), f"strict module {module} has no file"
        assert path.resolve() in checked, f"strict module {module} is not in [tool.mypy] files"
