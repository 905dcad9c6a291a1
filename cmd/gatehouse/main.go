// Command gatehouse is a reverse proxy and API gateway. See docs/cli.md.
package main

import (
	"fmt"
	"io"
	"os"
)

// Exit codes (docs/cli.md).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand: it parses its own flags from args and returns
// an exit code.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run from a configuration file", cmdRun},
		{"proxy", "quick mode: one route to one or more upstreams, no file needed", cmdProxy},
		{"demo", "run the embedded demo (backends + Gatehouse on 127.0.0.1:8080)", cmdDemo},
		{"validate", "check a configuration file without serving", cmdValidate},
		{"explain", "show which route, chain and upstream a request would take", cmdExplain},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Gatehouse: a reverse proxy and API gateway.")
	fmt.Fprintln(w, "\nUsage: gatehouse <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'gatehouse <command> --help' for a command's flags. Docs: docs/cli.md")
}
