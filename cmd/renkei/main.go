// Command renkei runs a renkei node and administers its data: see `renkei help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/renkei-cti/renkei/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
