"""Every Procfile process refuses a bad configuration at start: it exits non-zero with the
CLI's one-screen message naming what to set, printed once and without a traceback (a worker
that said `ready` and then failed every task would look healthy while texts piled up)."""

from __future__ import annotations

import subprocess

import pytest

from scripts.devstack import ROOT, Stack, procfile

pytestmark = pytest.mark.e2e

HANG = 120   # seconds; only stops a process that never exits, never a verdict on speed


@pytest.mark.parametrize("name", sorted(procfile()))
def test_each_procfile_process_without_zendesk_url_exits_non_zero_naming_it(
        name: str, tmp_path) -> None:  # noqa: ANN001
    env = Stack(workdir=tmp_path, redis_url="redis://127.0.0.1:1/0").env()
    env.pop("ZENDESK_URL")
    env["BEAT_SCHEDULE_FILE"] = str(tmp_path / "beat-schedule")
    done = subprocess.run(["sh", "-c", "exec " + procfile()[name]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=HANG)
    cli = subprocess.run(["sh", "-c", "exec zkbridge failed list"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=HANG)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "ZENDESK_URL is not set" in done.stderr, output
    assert cli.returncode != 0 and cli.stderr in done.stderr, (cli.stderr, output)
    assert output.count("zkbridge cannot start; fix these settings:") == 1, output
    assert "Traceback" not in output, output


@pytest.mark.parametrize("name", sorted(procfile()))
def test_each_procfile_process_refuses_a_bad_brands_file_naming_the_brand_and_field(
        name: str, tmp_path) -> None:  # noqa: ANN001
    """E7: the brands file is part of the configuration every process checks at start."""
    brands = tmp_path / "brands.toml"
    brands.write_text('[[brand]]\nname = "bolt"\nklaviyo_api_key = "pk_bolt_test_key"\n'
                      'klaviyo_webhook_secret = "bolt-secret-for-the-test"\n'
                      'numbers = ["not a number"]\nzendesk_brand_id = 8002\n')
    env = Stack(workdir=tmp_path, redis_url="redis://127.0.0.1:1/0").env()
    env["BRANDS_FILE"] = str(brands)
    env["BEAT_SCHEDULE_FILE"] = str(tmp_path / "beat-schedule")
    done = subprocess.run(["sh", "-c", "exec " + procfile()[name]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=HANG)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "BRANDS_FILE brand 'bolt': numbers entry 'not a number'" in done.stderr, output
    assert "bolt-secret-for-the-test" not in output and "Traceback" not in output, output
