// Command awragate is a Caddy v2 distribution: Caddy's core and standard
// modules plus awragate's integration security modules and subcommands.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/awra/awragate/modules/awra"
	_ "github.com/awra/awragate/modules/commands"
)

func main() {
	caddycmd.Main()
}
