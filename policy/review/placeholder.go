package review

import (
	"bytes"
	"io"
	"os"
	"strings"
)

// Env gives the review access to what Caddy's placeholders read at
// provision time. The zero value reads nothing: every variable is empty
// and every file is missing.
type Env struct {
	// Getenv returns an environment variable, "" when unset.
	Getenv func(name string) string

	// ReadFile returns a file's content for {file.*} placeholders.
	ReadFile func(path string) ([]byte, error)
}

// OSEnv returns an Env over the process environment and file system.
func OSEnv() Env {
	return Env{Getenv: os.Getenv, ReadFile: ReadFileLimited}
}

// maxPlaceholderFile is the most a {file.*} placeholder reads, as in
// Caddy 2.11: 1 MiB.
const maxPlaceholderFile = 1 << 20

// ReadFileLimited reads at most the first 1 MiB of a file, as Caddy's
// {file.*} placeholder does.
func ReadFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxPlaceholderFile))
}

// SecretInfo describes a configured secret without holding it: where it
// comes from and how long it is once placeholders are replaced.
type SecretInfo struct {
	// Source is the configured text when it consists only of
	// placeholders, such as "{env.AWRA_URL_KEY}". It is empty when the
	// text contains anything else, because that text is part of the
	// secret.
	Source string `json:"source,omitempty"`

	// Placeholders lists the placeholder names used, such as
	// "env.AWRA_URL_KEY", in the order written.
	Placeholders []string `json:"placeholders,omitempty"`

	// Literal reports that some of the secret is written in the
	// configuration itself, which Caddy's admin API returns to anyone who
	// can read it.
	Literal bool `json:"literal"`

	// Length is the secret's length in bytes after replacement, as the
	// gateway uses it.
	Length int `json:"length"`

	// Unresolved lists placeholders that gave an empty value, such as an
	// unset environment variable or an unreadable file.
	Unresolved []string `json:"unresolved,omitempty"`
}

// ResolveSecret replaces the {env.NAME} and {file.PATH} placeholders in
// raw the way Caddy's ReplaceKnown does at provision time, and returns the
// result's length and origin. Other placeholders stay as written, as they
// do in the gateway. The secret itself is dropped before returning.
func (e Env) ResolveSecret(raw string) SecretInfo {
	var info SecretInfo
	var out bytes.Buffer
	onlyPlaceholders := raw != ""

	rest := raw
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			out.WriteString(rest)
			onlyPlaceholders = false
			break
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			out.WriteString(rest)
			onlyPlaceholders = false
			break
		}
		if open > 0 {
			out.WriteString(rest[:open])
			onlyPlaceholders = false
		}
		key := rest[open+1 : open+end]
		value, known := e.lookup(key)
		if known {
			info.Placeholders = append(info.Placeholders, key)
			if value == "" {
				info.Unresolved = append(info.Unresolved, key)
			}
			out.WriteString(value)
		} else {
			// An unknown placeholder stays in the secret as text.
			out.WriteString(rest[open : open+end+1])
			onlyPlaceholders = false
		}
		rest = rest[open+end+1:]
	}

	info.Length = out.Len()
	info.Literal = !onlyPlaceholders && raw != ""
	if onlyPlaceholders {
		info.Source = raw
	}
	out.Reset()
	return info
}

// lookup returns the value of placeholder key and whether the gateway
// would replace it.
func (e Env) lookup(key string) (string, bool) {
	if name, ok := strings.CutPrefix(key, "env."); ok {
		if e.Getenv == nil {
			return "", true
		}
		return e.Getenv(name), true
	}
	if path, ok := strings.CutPrefix(key, "file."); ok {
		if e.ReadFile == nil {
			return "", true
		}
		body, err := e.ReadFile(path)
		if err != nil {
			return "", true
		}
		body = bytes.TrimSuffix(body, []byte("\n"))
		body = bytes.TrimSuffix(body, []byte("\r"))
		return string(body), true
	}
	return "", false
}

// ReplaceEnv replaces {env.NAME} and {file.PATH} placeholders in a
// setting that is not secret, such as a file path or a Redis URL.
func (e Env) ReplaceEnv(raw string) string {
	var out strings.Builder
	rest := raw
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			out.WriteString(rest)
			return out.String()
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			out.WriteString(rest)
			return out.String()
		}
		out.WriteString(rest[:open])
		key := rest[open+1 : open+end]
		if value, known := e.lookup(key); known {
			out.WriteString(value)
		} else {
			out.WriteString(rest[open : open+end+1])
		}
		rest = rest[open+end+1:]
	}
}
