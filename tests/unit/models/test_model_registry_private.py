"""The model registry is the owner's alone (folders 0700, files 0600), whatever the umask."""

from __future__ import annotations

import os
import stat

from models import registry


def test_a_saved_and_promoted_model_is_owner_only_under_an_open_umask(tmp_path, telco_fit):
    root = tmp_path / "models"
    previous = os.umask(0)
    try:
        version = registry.save(root, telco_fit.model, metrics=telco_fit.report, fingerprint="f" * 64)
        registry.promote(root, version, force=True, reason="test")
    finally:
        os.umask(previous)
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}
    assert {path: mode for path, mode in modes.items() if mode not in (0o700, 0o600)} == {}
    assert "models/audit.jsonl" in modes and f"models/versions/{version}/model.txt" in modes
