"""`talkinghead track`: AU CSV and plot of a real clip; clear errors on bad input."""

from __future__ import annotations

from actionunits import AU_NAMES, AUSeries
from talkinghead.cli import main


def test_track_writes_csv_and_plot(shared_data, tmp_path, capsys):
    clip = shared_data / "video" / "more" / "lrs2_deep_avsr" / "00008.mp4"
    out, png = tmp_path / "aus.csv", tmp_path / "aus.png"
    assert main(["track", str(clip), "-o", str(out), "--plot", str(png), "--fps", "25"]) == 0
    series = AUSeries.read_csv(out)
    assert series.names == AU_NAMES and series.fps == 25.0
    assert abs(len(series) - 3.01 * 25) <= 2 and series.valid.mean() > 0.9
    assert series.column("jawOpen").max() > 0.2  # someone is talking
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out


def test_track_bad_inputs(tmp_path, capsys):
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"\x00" * 1000)
    assert main(["track", str(bogus), "-o", str(tmp_path / "a.csv")]) == 2
    assert main(["track", str(tmp_path / "none.mp4"), "-o", str(tmp_path / "a.csv")]) == 2
    err = capsys.readouterr().err
    assert "cannot read video" in err and "not found" in err
    assert not (tmp_path / "a.csv").exists()
