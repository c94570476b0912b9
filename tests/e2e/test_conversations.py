"""Rasa's own conversation tests, run as part of the suite (fails on any prediction error)."""
import subprocess
import sys
from pathlib import Path

from bot.config import ROOT

MODEL = ROOT / "models" / "current.tar.gz"


def test_rasa_test_stories_pass(tmp_path):
    rasa = Path(sys.executable).with_name("rasa")
    result = subprocess.run(
        [str(rasa), "test", "core", "--model", str(MODEL), "--stories", str(ROOT / "tests" / "stories"),
         "--fail-on-prediction-errors", "--out", str(tmp_path), "--no-plot"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    failed = (tmp_path / "failed_test_stories.yml")
    detail = failed.read_text(encoding="utf-8") if failed.exists() else result.stdout[-3000:]
    assert result.returncode == 0, detail + result.stderr[-3000:]
