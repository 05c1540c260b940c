// Command awragate is a Caddy v2 distribution: Caddy's core and standard
// modules plus awragate's integration security modules and subcommands.
package main

import (
	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/awra/awragate/modules/awra"
	_ "github.com/awra/awragate/modules/commands"
)

func main() {
	// Help, usage lines and shell completions name this binary, not caddy.
	caddy.CustomBinaryName = "awragate"
	caddy.CustomLongDescription = `awragate is a Caddy v2 distribution that enforces integration security in
front of the AWRA workspace: API keys with scopes, IP allowlists and rate
limits, signed URLs, provider webhook signatures, and a tamper-evident audit
log in Redis Streams. Every standard Caddy command and module is included.

Start with the README: build, create a key, run Caddyfile.example.
`
	caddycmd.Main()
}
