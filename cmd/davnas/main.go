// Command davnas serves a directory over the http-nas /file/ API and WebDAV.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

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

func newApp() *cli.App {
	usageErr := func(c *cli.Context, err error, _ bool) error {
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
				return server.Run(ctx, cfg, server.NewLogger(cfg, os.Stderr))
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
