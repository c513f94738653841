"""The renderer registry: one list of names for every front end, and a new renderer added
from one module (the example in docs/render.md, registered and rendered here)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from talkinghead.cli import build_parser, main
from talkinghead.renderers import ModelOptions, load, names, registry

REPO = Path(__file__).resolve().parents[1]


def docs_example() -> str:
    text = (REPO / "docs" / "render.md").read_text()
    section = text[text.index("### Adding a renderer") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def generator_choices(command: str) -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return next(a for a in sub._actions if a.dest == "generator").choices


def test_the_shipped_renderers_in_their_order():
    assert names() == ("warp", "gath_w", "gath")
    for command in ("render", "reenact", "demo", "edit", "live"):
        assert generator_choices(command) == list(names())


def test_an_unknown_renderer_is_refused_with_the_registered_names(capsys, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["edit", "--photo", str(tmp_path / "p.png"), "--generator", "nope", "-o", str(tmp_path / "e.png")])
    assert e.value.code == 2
    assert "invalid choice: 'nope' (choose from 'warp', 'gath_w', 'gath')" in capsys.readouterr().err


def test_the_docs_example_renderer_registers_and_renders(shared_data, monkeypatch, tmp_path, capsys):
    from talkinghead.io.image import read_image

    monkeypatch.setattr(registry, "_SPECS", dict(registry._SPECS))  # the registration ends with the test
    exec(compile(docs_example(), "docs/render.md", "exec"), {})
    assert names()[-1] == "still" and "still" in generator_choices("render")
    with pytest.raises(SystemExit):
        main(["render", "--help"])
    assert "still: every frame is the photo" in " ".join(capsys.readouterr().out.split())

    photo = shared_data / "portraits" / "liveportrait_s1.jpg"
    out = tmp_path / "still.png"
    assert (
        main(["edit", "--photo", str(photo), "--generator", "still", "--au", "jawOpen=0.9", "-o", str(out), "--quiet"])
        == 0
    )
    portrait, _ = load(ModelOptions("still")).open(photo, even_size=False)
    assert np.array_equal(read_image(out), portrait.image)  # the toy ignores the AUs: the photo comes back
    with pytest.raises(ValueError, match="already registered"):
        exec(compile(docs_example(), "docs/render.md", "exec"), {})
