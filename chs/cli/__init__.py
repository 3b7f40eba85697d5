"""The command line: parse, call one library function, render. The only layer that prints."""
