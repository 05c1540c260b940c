package review

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/awra/awragate/policy/audit"
)

// Deployment is the part of a Caddy JSON configuration that the review
// judges: the awra app's settings, the HTTP servers' client-IP settings
// and every awra handler with the route that leads to it. Secrets appear
// only as SecretInfo.
type Deployment struct {
	// App is the awra app, or nil when the configuration has none.
	App *AppSettings `json:"app,omitempty"`

	// Servers are the HTTP servers, sorted by name.
	Servers []Server `json:"servers"`

	// Handlers of each kind, in configuration order.
	APIKeyRoutes    []APIKeyRoute    `json:"api_key_routes"`
	SignedURLRoutes []SignedURLRoute `json:"signed_url_routes"`
	WebhookRoutes   []WebhookRoute   `json:"webhook_routes"`

	router router
}

// AppSettings are the awra app's settings that the review uses, with
// {env.*} and {file.*} placeholders replaced except in secrets.
type AppSettings struct {
	// Redis is the app's Redis URL. It may hold a password, so reports
	// show it only through RedactURL.
	Redis string `json:"-"`

	// KeysFile is the path of the key registry.
	KeysFile string `json:"keys_file,omitempty"`

	// Audit reports whether the audit pipeline is configured.
	Audit bool `json:"audit"`

	// AuditStream is the audit stream key, audit.DefaultStream when the
	// configuration does not set one.
	AuditStream string `json:"audit_stream,omitempty"`

	// ChainKey is the audit chain_key setting, described without the key.
	ChainKey *SecretInfo `json:"chain_key,omitempty"`

	// MaxKeyLifetime is the app option max_key_lifetime: the longest a key
	// may live from creation to expiry. Zero when the option is absent.
	MaxKeyLifetime time.Duration `json:"max_key_lifetime,omitempty"`

	chainKey string // chain_key as configured, placeholders unreplaced
}

// ResolveChainKey returns the audit chain key that the configuration's
// chain_key setting gives in env, nil when it gives none.
func (s *AppSettings) ResolveChainKey(env Env) []byte {
	if s == nil || s.chainKey == "" {
		return nil
	}
	key := env.ReplaceEnv(s.chainKey)
	if key == "" {
		return nil
	}
	return []byte(key)
}

// RedactURL returns a URL without its user information, so that a Redis
// password never reaches a report. An unparsable URL is not shown.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(URL not shown: it does not parse)"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// MaxKeyLifetimeField is the JSON name, under apps.awra, of the option
// that sets the maximum key lifetime.
const MaxKeyLifetimeField = "max_key_lifetime"

// Server is one HTTP server's client-IP settings.
type Server struct {
	Name   string   `json:"name"`
	Listen []string `json:"listen,omitempty"`

	// TrustedProxySource is the trusted_proxies module ("static" for a
	// list of ranges), empty when no proxy is trusted.
	TrustedProxySource string `json:"trusted_proxies_source,omitempty"`

	// TrustedProxyRanges are the ranges of a static source as written.
	TrustedProxyRanges []string `json:"trusted_proxies_ranges,omitempty"`

	TrustedProxiesStrict bool     `json:"trusted_proxies_strict"`
	ClientIPHeaders      []string `json:"client_ip_headers,omitempty"`

	// AwraRoutes counts the awra handlers the server runs.
	AwraRoutes int `json:"awra_routes"`
}

// RouteRef locates one awra handler in the configuration.
type RouteRef struct {
	// ID is the JSON pointer of the handler in the configuration, such
	// as /apps/http/servers/srv0/routes/0/handle/0/routes/0/handle/0.
	ID string `json:"id"`

	Server string `json:"server"`

	// Module is the handler's audit module: api_key, signed_url or
	// webhook.
	Module audit.Module `json:"module"`

	// Label describes the route for people: the server and the host,
	// method and path matchers on the way to the handler.
	Label string `json:"label"`
}

// APIKeyRoute is one awra_api_key handler.
type APIKeyRoute struct {
	RouteRef
	Scopes []string `json:"scopes"`
}

// SignedURLRoute is one awra_signed_url handler with its effective limits.
type SignedURLRoute struct {
	RouteRef
	Keys      []SigningKeyInfo `json:"keys"`
	MaxTTL    time.Duration    `json:"max_ttl"`
	ClockSkew time.Duration    `json:"clock_skew"`
}

// SigningKeyInfo is one signed-URL key id and its secret's description.
type SigningKeyInfo struct {
	ID     string     `json:"id"`
	Secret SecretInfo `json:"secret"`
}

// WebhookRoute is one awra_webhook handler with its effective settings.
type WebhookRoute struct {
	RouteRef
	Provider      string        `json:"provider"`
	Secrets       []SecretInfo  `json:"secrets"`
	Tolerance     time.Duration `json:"tolerance"`
	MaxBody       int64         `json:"max_body"`
	SourceCIDRs   []string      `json:"source_cidrs"`
	ReplayWindow  time.Duration `json:"replay_window"`
	MaxDeliveries int           `json:"max_deliveries"`
}

// ParseDeployment reads a Caddy JSON configuration, as produced by
// `awragate adapt`, and collects what the review judges. Handlers are
// found through subroute handlers at any depth. Placeholders in secrets
// are resolved with env only to measure them.
func ParseDeployment(data []byte, env Env) (*Deployment, error) {
	var cfg struct {
		Apps map[string]json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("decoding the configuration JSON: %w", err)
	}

	d := &Deployment{Servers: []Server{}, APIKeyRoutes: []APIKeyRoute{}, SignedURLRoutes: []SignedURLRoute{}, WebhookRoutes: []WebhookRoute{}}
	if raw, ok := cfg.Apps["awra"]; ok {
		app, err := parseApp(raw, env)
		if err != nil {
			return nil, err
		}
		d.App = app
	}
	if raw, ok := cfg.Apps["http"]; ok {
		if err := d.parseHTTP(raw, env); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func parseApp(raw json.RawMessage, env Env) (*AppSettings, error) {
	var app struct {
		Redis          string          `json:"redis"`
		KeysFile       string          `json:"keys_file"`
		MaxKeyLifetime json.RawMessage `json:"max_key_lifetime"`
		Audit          *struct {
			Stream   string `json:"stream"`
			ChainKey string `json:"chain_key"`
		} `json:"audit"`
	}
	if err := json.Unmarshal(raw, &app); err != nil {
		return nil, fmt.Errorf("decoding apps.awra: %w", err)
	}
	lifetime, err := parseJSONDuration(app.MaxKeyLifetime)
	if err != nil {
		return nil, fmt.Errorf("apps.awra.%s: %w", MaxKeyLifetimeField, err)
	}

	s := &AppSettings{
		Redis:          env.ReplaceEnv(app.Redis),
		KeysFile:       env.ReplaceEnv(app.KeysFile),
		MaxKeyLifetime: lifetime,
	}
	if app.Audit != nil {
		s.Audit = true
		s.AuditStream = env.ReplaceEnv(app.Audit.Stream)
		if s.AuditStream == "" {
			s.AuditStream = audit.DefaultStream
		}
		chainKey := env.ResolveSecret(app.Audit.ChainKey)
		s.ChainKey = &chainKey
		s.chainKey = app.Audit.ChainKey
	}
	return s, nil
}

func (d *Deployment) parseHTTP(raw json.RawMessage, env Env) error {
	var httpApp struct {
		Servers map[string]rawServer `json:"servers"`
	}
	if err := json.Unmarshal(raw, &httpApp); err != nil {
		return fmt.Errorf("decoding apps.http: %w", err)
	}

	names := make([]string, 0, len(httpApp.Servers))
	for name := range httpApp.Servers {
		names = append(names, name)
	}
	slices.Sort(names)

	for _, name := range names {
		rs := httpApp.Servers[name]
		srv := Server{
			Name:                 name,
			Listen:               rs.Listen,
			TrustedProxiesStrict: rs.TrustedProxiesStrict > 0,
			ClientIPHeaders:      rs.ClientIPHeaders,
		}
		if rs.TrustedProxies != nil {
			srv.TrustedProxySource = rs.TrustedProxies.Source
			srv.TrustedProxyRanges = rs.TrustedProxies.Ranges
		}

		w := &routeWalker{d: d, env: env, server: name}
		tree, err := w.routes(rs.Routes, "/apps/http/servers/"+escapePointer(name)+"/routes", nil)
		if err != nil {
			return err
		}
		srv.AwraRoutes = w.handlers
		d.router.servers = append(d.router.servers, serverRoutes{name: name, listen: rs.Listen, routes: tree})
		d.Servers = append(d.Servers, srv)
	}
	return nil
}

type rawServer struct {
	Listen         []string   `json:"listen"`
	Routes         []rawRoute `json:"routes"`
	TrustedProxies *struct {
		Source string   `json:"source"`
		Ranges []string `json:"ranges"`
	} `json:"trusted_proxies"`
	TrustedProxiesStrict int      `json:"trusted_proxies_strict"`
	ClientIPHeaders      []string `json:"client_ip_headers"`
}

type rawRoute struct {
	Group    string                       `json:"group"`
	Match    []map[string]json.RawMessage `json:"match"`
	Handle   []json.RawMessage            `json:"handle"`
	Terminal bool                         `json:"terminal"`
}

// escapePointer escapes a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '~':
			out = append(out, '~', '0')
		case '/':
			out = append(out, '~', '1')
		default:
			out = append(out, s[i])
		}
	}
	return string(out)
}
