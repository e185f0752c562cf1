"""The HTML report in a real browser: headless Chromium loads it with no console error, decodes every image, and
leaves a screenshot. Skipped only where no Chromium is installed (.ci/run installs Debian's where it can)."""

import html
import json
import re
import shutil
import subprocess

import pytest

from test_report_html import full_report, make_runs

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Put first in <head> of a copy of the report: records every error (script errors, resources that fail to load,
# console.error), and once the page has loaded writes what it found into the DOM, where --dump-dom shows it.
PROBE = """<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message || (e.target && e.target.alt) || e)), true);
const consoleError = console.error;
console.error = (...args) => { window.__errors.push(args.join(" ")); consoleError(...args); };
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const broken = images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images: images.length, broken: broken, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip("no Chromium to render the report in: `apt-get install -y chromium` (.ci/run does, where it can)")
    return found


def headless(binary: str, *args: str) -> subprocess.CompletedProcess:
    """One headless Chromium call; --no-sandbox: CI containers run as root, where the sandbox cannot start."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
    return subprocess.run([binary, *flags, *args], capture_output=True, text=True, timeout=120)


def test_the_report_renders_in_headless_chromium(tmp_path_factory, tmp_path):
    binary = browser()  # before any run is trained
    page = full_report(make_runs(tmp_path_factory.getbasetemp() / "report-runs"))
    report = tmp_path / "report.html"
    report.write_text(page)
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("<head>", "<head>" + PROBE, 1))

    done = headless(
        binary, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", "--dump-dom", probed.as_uri()
    )
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, f"the page did not finish loading: {done.stderr[-2000:]}"
    result = json.loads(html.unescape(found.group(1)))
    assert result["images"] == page.count("<img ") and result["images"] > 40
    assert result["broken"] == [] and result["errors"] == []
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # the page itself logs nothing

    shot = tmp_path / "report.png"
    done = headless(binary, "--window-size=1400,5000", f"--screenshot={shot}", report.as_uri())
    assert done.returncode == 0 and shot.stat().st_size > 10_000, done.stderr[-2000:]
    print(f"screenshot of the report: {shot}")
