package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig"
)

// reviewConfig is the configuration to review in Caddy JSON.
type reviewConfig struct {
	json     []byte
	adapter  string
	sha256   string // of the file's bytes as read
	warnings []string
}

// loadReviewConfig reads the configuration file and adapts it to JSON
// with the named Caddy adapter. Without a name it picks caddyfile for a
// file whose name starts with "Caddyfile" or ends in ".caddyfile", and
// reads any other file as JSON, as 'caddy run' does.
func loadReviewConfig(path, adapterName string) (*reviewConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("reading --config: %w", err)
	}
	sum := sha256.Sum256(data)
	cfg := &reviewConfig{sha256: hex.EncodeToString(sum[:]), adapter: adapterName}

	if cfg.adapter == "" {
		base := filepath.Base(path)
		cfg.adapter = "json"
		if strings.HasPrefix(base, "Caddyfile") || strings.HasSuffix(base, ".caddyfile") {
			cfg.adapter = "caddyfile"
		}
	}
	if cfg.adapter == "json" {
		if !json.Valid(data) {
			return nil, usagef("--config '%s' is not valid JSON: name the adapter with --adapter caddyfile if it is a Caddyfile", path)
		}
		cfg.json = data
		return cfg, nil
	}

	adapter := caddyconfig.GetAdapter(cfg.adapter)
	if adapter == nil {
		return nil, usagef("--adapter '%s' is not a config adapter of this binary: use caddyfile, or leave it out for JSON", cfg.adapter)
	}
	out, warnings, err := adapter.Adapt(data, map[string]any{"filename": path})
	if err != nil {
		return nil, usagef("adapting '%s' with the %s adapter: %w", path, cfg.adapter, err)
	}
	for _, w := range warnings {
		cfg.warnings = append(cfg.warnings, w.String())
	}
	cfg.json = out
	return cfg, nil
}

// toolVersion returns the module version and, when the build recorded
// it, the VCS revision, with "+dirty" for a modified checkout.
func toolVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	version := info.Main.Version
	var revision string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if revision != "" {
		version += " " + revision
		if dirty {
			version += "+dirty"
		}
	}
	return version
}
