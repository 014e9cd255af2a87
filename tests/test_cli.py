from toylab.__main__ import main


def test_sweep_list(capsys):
    assert main(["sweep", "--list"]) == 0
    assert "demo:" in capsys.readouterr().out


def test_bad_arguments_are_messages_not_traces(capsys):
    assert main(["demo", "--seeds", "9"]) == 2
    assert "error: --seeds" in capsys.readouterr().err
    assert main(["sweep", "no-such-sweep"]) == 2
    assert "shipped sweeps" in capsys.readouterr().err
