"""Every failure is one of the package's exceptions, with what to change."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

import backlog_risk as br

SCENARIO = "scenarios/openai-shift.toml"


def test_a_bad_file_is_a_scenario_error_with_its_location(tmp_path):
    bad = tmp_path / "bad.toml"
    text = open(SCENARIO).read().replace('min = 0.02, max = 0.10', 'min = -0.5, max = 0.10', 1)
    assert text != open(SCENARIO).read()
    bad.write_text(text)
    with pytest.raises(br.ScenarioError) as e:
        br.Scenario.load(bad)
    err = e.value
    assert err.file == str(bad)
    assert err.field is not None and "hazard" in err.field
    lines = text.splitlines()
    assert err.line is not None and "-0.5" in lines[err.line - 1]
    assert isinstance(err, ValueError) and isinstance(err, br.Error)


def test_a_missing_file_and_bad_toml_are_scenario_errors(tmp_path):
    with pytest.raises(br.ScenarioError, match="cannot read"):
        br.Scenario.load(tmp_path / "nope.toml")
    with pytest.raises(br.ScenarioError) as e:
        br.Scenario.from_toml("[scenario\nname = 1\n", name="pasted")
    assert e.value.file == "pasted" and e.value.line == 1


def test_with_values_names_the_field_it_cannot_use():
    sc = br.Scenario.load(SCENARIO)
    with pytest.raises(br.ScenarioError) as e:
        sc.with_values({"customers.openai.shift[0].target": 1.5})
    assert e.value.field == "customers.openai.shift[0].target"
    assert e.value.line is None and "with_values" in str(e.value)
    with pytest.raises(br.ScenarioError) as e:
        sc.with_values({"customers.openai.shift[7].target": 0.1})
    assert e.value.field == "customers.openai.shift[7].target" and "index 7" in str(e.value)
    with pytest.raises(TypeError, match="give numbers"):
        sc.with_values({"renegotiation[0].hazard": object()})


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"paths": 0}, "paths=0"),
        ({"sampling": "quasi"}, 'sampling="quasi"'),
        ({"threads": 0}, "threads=0"),
    ],
)
def test_a_bad_keyword_is_an_option_error(kwargs, words):
    with pytest.raises(br.OptionError, match=words):
        br.run(SCENARIO, **kwargs)


def test_a_run_compared_with_itself_is_refused():
    sc = br.Scenario.load(SCENARIO)
    with pytest.raises(br.OptionError, match="itself"):
        br.run_paired(sc, base=sc, paths=2048)


def test_bad_result_requests_are_option_errors():
    r = br.run(SCENARIO, paths=2048)
    with pytest.raises(br.OptionError, match="loss-azure"):
        r.chart("pie")
    with pytest.raises(br.OptionError, match=r"chart_size=\(600, 500\): a width of 600 pixels is outside 640..8000"):
        r.chart("fan", size=(600, 500))
    with pytest.raises(br.OptionError, match="2048 or fewer"):
        r.samples(5000)
    with pytest.raises(br.OptionError, match="not paired"):
        r.file("paired.csv")
    with pytest.raises(KeyError, match="loss.azure"):
        r["loss.azrue"]


def test_a_progress_callback_that_returns_false_cancels():
    seen = []

    def stop(done, total):
        seen.append((done, total))
        return False

    with pytest.raises(br.Cancelled):
        br.run(SCENARIO, paths=20_000_000, progress=stop)
    assert len(seen) == 1 and seen[0][1] == 20_000_000


def test_a_progress_callback_that_raises_stops_the_run_with_its_error():
    def boom(done, total):
        raise ZeroDivisionError("from the callback")

    with pytest.raises(ZeroDivisionError, match="from the callback"):
        br.run(SCENARIO, paths=20_000_000, progress=boom)


def test_progress_reaches_the_total():
    seen = []
    br.run(SCENARIO, paths=300_000, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (300_000, 300_000)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_keyboard_interrupt_stops_a_long_run_within_a_second():
    # Python's own Ctrl-C handler, even where the suite was started in the
    # background of a shell (which starts it with SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_a_long_run()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_long_run():
    before = threading.active_count()
    sent = []

    def interrupt():
        sent.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.5, interrupt)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        br.run(SCENARIO, paths=10_000_000)
    stopped = time.monotonic()
    timer.join()
    assert sent, "the interrupt was not sent: the run ended first"
    assert stopped - sent[0] < 1.0, f"stopped {stopped - sent[0]:.2f} s after Ctrl-C"
    # No thread of the run keeps going (rayon's pool threads are idle
    # workers, not Python threads; the simulation thread is joined).
    assert threading.active_count() == before
    # And the engine is usable again at once.
    assert br.run(SCENARIO, paths=2048).paths == 2048
