"""Progress without rich (a device install): plain lines on stderr, markup dropped."""

from edgeir.progress import PlainProgress


def test_plain_progress_prints_lines_and_the_completion(capsys):
    with PlainProgress("frames", every=3600) as bar:
        task = bar.add_task("restoring", total=3)
        bar.advance(task)  # within the interval: no line
        bar.console.print("[yellow]skipped[/] a.png: unreadable")
        bar.update(task, advance=2, description="restoring b.png")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "skipped a.png: unreadable"
    assert lines[1].startswith("restoring b.png 3/3, ") and "frames/s" in lines[1]
    assert len(lines) == 2


def test_a_disabled_bar_and_an_open_total_print_nothing_until_asked(capsys):
    bar = PlainProgress("steps", every=0)
    bar.disable = True
    bar.advance(bar.add_task("training", total=10))
    assert capsys.readouterr().err == ""
    bar.disable = False
    bar.advance(bar.add_task("reading"), 5)
    assert capsys.readouterr().err.startswith("reading 5, ")


def test_a_long_silent_step_says_it_still_runs(caplog):
    import logging
    import time

    from edgeir.progress import heartbeat

    log = logging.getLogger("edgeir")
    handlers = list(log.handlers)
    with caplog.at_level(logging.INFO, logger="edgeir"), heartbeat(every=0.2):
        log.info("converting to FP16 with ModelOpt AutoCast")
        time.sleep(0.7)  # a library call that logs nothing
        log.info("wrote model.onnx")
        time.sleep(0.1)  # not silent for long: no line
    stills = [m for m in caplog.messages if m.startswith("still ")]
    assert stills and all(m.startswith("still converting to FP16 with ModelOpt AutoCast (") for m in stills)
    assert caplog.messages[-1] == "wrote model.onnx"
    assert log.handlers == handlers  # its watch removed afterwards
