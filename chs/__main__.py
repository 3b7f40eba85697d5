from chs.cli.main import run

run()
