// Command davnas serves a directory over the http-nas /file/ API and WebDAV.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/davnas/davnas/internal/auth"
	"github.com/davnas/davnas/internal/config"
	"github.com/davnas/davnas/internal/server"
	"github.com/davnas/davnas/internal/version"
)

func main() {
	if err := newApp().Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "davnas: "+err.Error())
		os.Exit(1)
	}
}

var roleFlags = []cli.Flag{
	&cli.BoolFlag{Name: "read-only", Usage: "the user or token may only read"},
	&cli.StringFlag{Name: "root", Usage: "a sub-directory of the storage root that is all the user or token sees"},
}

// readPassword reads a password twice without echo from a terminal, or one
// line from a pipe (echo -n secret | davnas passwd user).
func readPassword(prompt io.Writer) (string, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fmt.Fprint(prompt, "Password: ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", err
	}
	fmt.Fprint(prompt, "Again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(prompt)
	if err != nil {
		return "", err
	}
	if string(a) != string(b) {
		return "", fmt.Errorf("the passwords differ")
	}
	return string(a), nil
}

func newApp() *cli.App {
	usageErr := func(c *cli.Context, err error, _ bool) error {
		if c.Command == nil || c.Command.Name == "davnas" {
			// Most often a command's flag put before the command.
			return fmt.Errorf("%w (see 'davnas --help'; a command's flags go after it: 'davnas serve --log-level debug')", err)
		}
		return fmt.Errorf("%w (see 'davnas %s --help')", err, c.Command.Name)
	}
	return &cli.App{
		Name:            "davnas",
		Usage:           "stream files over HTTP (the http-nas /file/ API) and WebDAV from one directory",
		HideHelpCommand: true,
		OnUsageError:    usageErr,
		Commands: []*cli.Command{{
			Name:         "serve",
			Usage:        "serve the storage root",
			Flags:        config.Flags(),
			OnUsageError: usageErr,
			Action: func(c *cli.Context) error {
				if c.Args().Present() {
					return fmt.Errorf("unexpected argument %q (see 'davnas serve --help')", c.Args().First())
				}
				cfg, err := config.FromCLI(c, os.LookupEnv)
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(c.Context, syscall.SIGTERM, syscall.SIGINT)
				defer stop()
				log := server.NewLogger(cfg, os.Stderr)
				for _, k := range config.UnknownEnv(os.Environ()) {
					log.Warn("environment variable " + k + " is not a davnas setting (see davnas serve --help); ignored")
				}
				return server.Run(ctx, cfg, log)
			},
		}, {
			Name:  "healthcheck",
			Usage: "exit 0 if the server configured by the same flags and environment answers /healthz on this host (for a container HEALTHCHECK)",
			Flags: config.Flags(),
			Action: func(c *cli.Context) error {
				cfg, err := config.FromCLI(c, os.LookupEnv)
				if err != nil {
					return err
				}
				return server.Healthcheck(c.Context, cfg)
			},
		}, {
			Name:      "passwd",
			Usage:     "print an --auth-file line for USER (bcrypt); the password is read from the terminal, or from stdin",
			ArgsUsage: "USER",
			Flags:     roleFlags,
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return fmt.Errorf("usage: davnas passwd [--read-only] [--root DIR] USER")
				}
				pw, err := readPassword(c.App.ErrWriter)
				if err != nil {
					return err
				}
				line, err := auth.PasswdLine(c.Args().First(), pw, c.Bool("read-only"), c.String("root"))
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, line)
				return nil
			},
		}, {
			Name:      "token",
			Usage:     "make a bearer token for NAME: the --token-file line (holding only its SHA-256) on stdout, the token on stderr",
			ArgsUsage: "NAME",
			Flags:     roleFlags,
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return fmt.Errorf("usage: davnas token [--read-only] [--root DIR] NAME")
				}
				tok, line, err := auth.NewToken(c.Args().First(), c.Bool("read-only"), c.String("root"))
				if err != nil {
					return err
				}
				fmt.Fprintln(c.App.Writer, line)
				fmt.Fprintln(c.App.ErrWriter, "token (give it to the client; it is not stored): "+tok)
				return nil
			},
		}, {
			Name:  "version",
			Usage: "print version, commit and Go version",
			Action: func(c *cli.Context) error {
				fmt.Fprintln(c.App.Writer, version.String())
				return nil
			},
		}},
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return fmt.Errorf("unknown command %q (see 'davnas --help')", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		ExitErrHandler: func(*cli.Context, error) {},
	}
}
