"""index.html in a real browser: headless chromium (Debian's chromium and chromium-driver) through selenium.

The page is built from a small hand-made results directory: two backends, two dtypes, two families, every
kind of cell (pass, a variant, a fail, an error, unsupported, not run). The test opens it, works each filter
and the search box, and checks which rows, columns, tables and deviation groups hide and show; that a cell's
popup opens from its JSON; that a link to a card opens the card's collapsed group; and that nothing drawn
inside a table cell (or a card's field) reaches outside it. Without chromium it skips, except under CI=true,
where a browser test that cannot run is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import pytest

from nnspec.report import build_report

CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install nnspec[test])"
    if not CHROMEDRIVER or not CHROMIUM:
        return "no chromium / chromedriver on PATH (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the browser test cannot run: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(argument)
    if CHROMIUM:
        options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


LONG = "x" * 300  # one unbroken word: it must wrap inside its card, not run out of it


def _environment(backend, version):
    return {"kind": "environment", "run_id": f"{backend}-run", "started": "2024-06-01T12:00:00+00:00",
            "backend": backend, "backend_version": version, "device": "cpu", "python": "3.11.9",
            "platform": "Linux-6.8-x86_64-with-glibc2.39", "machine": "x86_64", "numpy": "2.1.0", "numerics": {},
            "budget": {"examples": 20}, "seed": 1, "nnspec_version": "0.1.0", "argv": ["nnspec", "run"]}


def _check(env, op, family, dtype, check, status, **fields):
    record = {"kind": "check", "id": f"{env['backend']}/cpu/{dtype}/{op}/{check}", "op": op, "family": family,
              "backend": env["backend"], "backend_version": env["backend_version"], "device": "cpu", "dtype": dtype,
              "check": check, "status": status, "max_ulp": 0, "max_abs": 0.0, "max_rel": 0.0, "tolerance": 2,
              "tolerance_reason": "elementwise", "examples": 20, "message": "", "seconds": 0.1, "run_id": env["run_id"]}
    record.update(fields)
    return record


def _example(values, message):
    return {"inputs": [{"dtype": "float32", "shape": [len(values)], "values": [float(v).hex() for v in values]}],
            "cotangent": None, "params": {}, "message": message}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    results = root / "results"
    results.mkdir()
    numpy, torch = _environment("numpy", "2.1.0"), _environment("torch", "2.4.0")
    lines = {"numpy": [numpy], "torch": [torch]}
    for dtype in ("float32", "float64"):
        for env in (numpy, torch):
            lines[env["backend"]] += [_check(env, "relu", "activations", dtype, c, "pass") for c in ("forward", "gradient")]
            lines[env["backend"]].append(_check(env, "mse", "losses", dtype, "forward", "pass"))
        # torch's gelu matches the tanh variant in both dtypes: one cause, two records
        message = "3 ULP (bound 2) at index (1,): got 0.5, spec 0.25"
        lines["torch"].append(_check(torch, "gelu", "activations", dtype, "forward", "fail", max_ulp=3,
                                     matches_variant="gelu(approximate='tanh')", message=message,
                                     counterexamples=[_example([0.5, -1.25], message)],
                                     repro=f"nnspec repro torch/cpu/{dtype}/gelu/forward"))
        lines["numpy"].append(_check(numpy, "gelu", "activations", dtype, "forward", "pass"))
    fail = "9 ULP (bound 2) at index (0,): got 1.0, spec 2.0 " + LONG
    lines["torch"].append(_check(torch, "mse", "losses", "float32", "gradient", "fail", max_ulp=9, message=fail,
                                 counterexamples=[_example([1.0, 2.0], fail)], repro="nnspec repro torch/cpu/float32/mse/gradient"))
    lines["numpy"].append(_check(numpy, "mse", "losses", "float64", "gradient", "error",
                                 message="RuntimeError: <b>not</b> implemented", max_ulp=None))
    lines["numpy"].append(_check(numpy, "mse", "losses", "float32", "gradient", "unsupported", message="no float32 gradient"))
    for backend, env in (("numpy", numpy), ("torch", torch)):
        lines[backend].append({"kind": "finished", "run_id": env["run_id"], "seconds": 3.0, "cpu_seconds": 2.0})
        (results / f"{backend}-cpu-run.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines[backend]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_report(results, root / "out")
    return root / "out" / "index.html"


def _shown(driver, selector):
    from selenium.common.exceptions import StaleElementReferenceException

    def displayed(e) -> bool:
        try:
            return e.is_displayed()
        except StaleElementReferenceException:  # removed between finding and asking (a closing popup): not shown
            return False

    return [e for e in driver.find_elements("css selector", selector) if displayed(e)]


def _wait_for(driver, selector, count):
    """The shown elements of ``selector`` once there are ``count`` (a details' toggle event comes a task later)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(lambda d: len(_shown(d, selector)) == count)
    return _shown(driver, selector)


def _ops(driver, dtype=None):
    """The ops of the shown matrix rows that hold a measured cell (every catalogue op has a row; these few ops
    have records)."""
    rows = driver.execute_script("""
        return Array.prototype.filter.call(document.querySelectorAll(arguments[0]), function (r) {
          return r.offsetParent !== null && r.querySelector("td.cell[data-i]:not(.hidden)");
        }).map(function (r) { return r.cells[0].textContent; });""",
        f'section.dtype[data-t="{dtype}"] tr.op-row' if dtype else "tr.op-row")
    return sorted(set(rows))


def _groups(driver):
    return sorted(g.find_element("css selector", "summary b").text + " " + g.get_attribute("data-b")
                  for g in _shown(driver, "details.group"))


def _choose(driver, name, value):
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", f'#bar select[data-filter="{name}"]')).select_by_value(value)


def _search(driver, text):
    box = driver.find_element("css selector", '#bar input[data-filter="q"]')
    box.clear()
    if text:
        box.send_keys(text)
    else:  # clear() fires no input event
        driver.execute_script("arguments[0].dispatchEvent(new Event('input'))", box)


def _escapes(driver) -> list[str]:
    """What is drawn outside its table cell, or outside its card's field: 'tag.class in td: how far'."""
    return driver.execute_script("""
        var out = [];
        function check(box, kids, where) {
          var b = box.getBoundingClientRect();
          kids.forEach(function (k) {
            var r = k.getBoundingClientRect();
            if (!r.width && !r.height) return;
            if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1)
              out.push(k.tagName + "." + k.className + " in " + where + ": " + [r.left - b.left, b.right - r.right,
                       r.top - b.top, b.bottom - r.bottom].map(Math.round).join(","));
          });
        }
        function text(box, where) {  // text runs out of a box it does not scroll
          if (box.scrollWidth > box.clientWidth + 1) out.push("text of " + where + ": " + (box.scrollWidth - box.clientWidth));
        }
        document.querySelectorAll("td, th").forEach(function (c) {
          if (c.offsetParent === null) return;
          check(c, Array.prototype.slice.call(c.querySelectorAll("*")), c.tagName);
          text(c, c.tagName);
        });
        document.querySelectorAll(".deviation dd").forEach(function (d) {
          if (d.offsetParent === null) return;
          check(d, Array.prototype.slice.call(d.querySelectorAll("*")), "dd");
          check(d.closest(".deviation"), [d], "card");
          text(d, "dd");
        });
        return out;""")


def test_filters_and_search_hide_and_show_rows(browser, page):
    browser.get(page.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    assert _ops(browser) == ["gelu", "mse", "relu"]
    rows = len(browser.find_elements("css selector", "tr.op-row"))  # every catalogue op, in each of 2 dtypes
    assert browser.find_element("id", "shown").text == f"{rows} of {rows} matrix rows shown"
    assert _groups(browser) == ["gelu torch", "mse numpy", "mse torch"]  # gelu's variant: one group of two

    tables = len(browser.find_elements("css selector", "section.dtype"))
    cells = len(browser.find_elements("css selector", "td.cell"))
    _choose(browser, "b", "numpy")  # backend: torch's column, its summary row and its deviations go
    assert [h.text.split(" ·")[0] for h in _shown(browser, "th.col")] == ["numpy"] * tables
    assert len(_shown(browser, "td.cell")) == cells // 2 and _groups(browser) == ["mse numpy"]
    assert [r.text.split()[0] for r in _shown(browser, "#summary-table tr.flt")] == ["numpy"]
    _choose(browser, "b", "")

    _choose(browser, "d", "cpu")  # device: everything here is on cpu
    assert len(_shown(browser, "td.cell")) == cells
    _choose(browser, "d", "")

    _choose(browser, "t", "float64")  # dtype: the float32 table goes, and deviations only in float32
    assert _ops(browser, "float32") == [] and _ops(browser, "float64") == ["gelu", "mse", "relu"]
    assert _groups(browser) == ["gelu torch", "mse numpy"]
    _choose(browser, "t", "")

    _choose(browser, "f", "losses")  # family
    assert _ops(browser) == ["mse"] and _groups(browser) == ["mse numpy", "mse torch"]
    _choose(browser, "f", "")

    _choose(browser, "s", "variant")  # status: rows with a cell of that status
    assert _ops(browser) == ["gelu"] and _groups(browser) == ["gelu torch"]
    _choose(browser, "s", "unsupported")
    assert _ops(browser, "float32") == ["mse"] and _ops(browser, "float64") == []
    _choose(browser, "s", "")

    browser.find_element("css selector", '#bar input[data-filter="dev"]').click()  # deviations only
    assert _ops(browser, "float32") == ["gelu", "mse"] and _ops(browser, "float64") == ["gelu", "mse"]
    assert browser.find_element("id", "shown").text == f"4 of {rows} matrix rows shown"
    browser.find_element("css selector", '#bar input[data-filter="dev"]').click()

    _search(browser, "GELU")  # search: case-insensitive, rows and deviation groups
    assert _ops(browser) == ["gelu"] and _groups(browser) == ["gelu torch"]
    _search(browser, "not</b> implemented")  # a deviation's message, as text
    assert _groups(browser) == ["mse numpy"]
    _search(browser, "")
    assert _ops(browser) == ["gelu", "mse", "relu"] and len(_groups(browser)) == 3


def test_a_cell_opens_its_popup_and_a_link_opens_the_card(browser, page):
    browser.get(page.as_uri())
    cell = next(c for c in browser.find_elements("css selector", "td.cell.s-variant"))
    cell.find_element("css selector", "summary").click()
    (pop,) = _wait_for(browser, ".pop", 1)
    assert pop.find_element("css selector", ".where").text.startswith("gelu · torch 2.4.0 · cpu · float")
    assert "gelu(approximate='tanh')" in pop.text and "3 ≤ 2 ulp" in pop.text
    assert pop.location["y"] >= cell.location["y"] + cell.size["height"] - 2  # under its cell
    assert not _shown(browser, "details.group[open]")
    pop.find_element("css selector", "a").click()  # → to the record's card, inside a collapsed group
    card = browser.find_element("id", browser.execute_script("return location.hash.slice(1)"))
    assert card.is_displayed() and "this example" in card.text and "3 ULP (bound 2) at index (1,)" in card.text
    browser.find_element("tag name", "body").send_keys("\ue00c")  # Escape closes the popup
    assert _wait_for(browser, ".pop", 0) == []


def test_nothing_escapes_its_cell(browser, page):
    browser.get(page.as_uri())
    for group in browser.find_elements("css selector", "details.group"):
        browser.execute_script("arguments[0].open = true", group)
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")  # lay out every off-screen part
    for section in browser.find_elements("css selector", "section.dtype, details.group, table.sticky"):
        browser.execute_script("arguments[0].scrollIntoView()", section)
    assert _escapes(browser) == []
    assert browser.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
