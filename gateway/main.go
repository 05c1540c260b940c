// Command awragate is a Caddy v2 distribution: Caddy's core and standard
// modules plus awragate's integration security modules and subcommands.
package main

import (
	"runtime/debug"

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
	caddy.CustomVersion = "awragate " + buildVersion() + " with Caddy"
	caddycmd.Main()
}

// version, when set at link time (-ldflags "-X main.version=v1.2.3"),
// names the build in place of the recorded build information.
var version string

// buildVersion names the awragate build: version when set, its module
// version when built as a tagged module, else the short commit and its
// date, with "+modified" for a build from a changed checkout, or
// "unknown" when Go recorded no version control information (as with
// GOFLAGS=-buildvcs=false).
func buildVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var revision, date, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			date = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if revision == "" {
		return "unknown"
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	revision += modified
	if len(date) >= 10 {
		revision += " (" + date[:10] + ")"
	}
	return revision
}
