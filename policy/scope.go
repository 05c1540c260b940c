package policy

import (
	"fmt"
	"strings"
)

// A scope is "resource:action", for example inventory:read. Each part is
// 1 to 64 characters of a-z, 0-9, '_', '-' and '.'. A key may hold a
// wildcard in either part ("inventory:*", "*:read", "*:*"); a route always
// names exact scopes.

const maxScopePart = 64

func validScopePart(s string, wildcard bool) bool {
	if wildcard && s == "*" {
		return true
	}
	if len(s) == 0 || len(s) > maxScopePart {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// ValidateScope checks a scope granted to a key; wildcards are allowed.
func ValidateScope(s string) error {
	res, act, ok := strings.Cut(s, ":")
	if !ok || !validScopePart(res, true) || !validScopePart(act, true) {
		return fmt.Errorf("invalid scope '%s': write resource:action with a-z, 0-9, '_', '-', '.', or '*' for a whole part, for example inventory:read", s)
	}
	return nil
}

// ValidateRequiredScope checks a scope that a route requires; wildcards are
// not allowed there because a route must say exactly what it needs.
func ValidateRequiredScope(s string) error {
	res, act, ok := strings.Cut(s, ":")
	if !ok || !validScopePart(res, false) || !validScopePart(act, false) {
		return fmt.Errorf("invalid required scope '%s': write resource:action with a-z, 0-9, '_', '-', '.', without wildcards, for example inventory:read", s)
	}
	return nil
}

// IsBroadScope reports whether a granted scope contains a wildcard.
func IsBroadScope(s string) bool {
	return strings.Contains(s, "*")
}

// Scope is a required scope split once into its two parts, so that matching
// on the request path does no string work.
type Scope struct {
	Resource, Action string
	text             string
}

// ParseRequiredScope validates s and splits it for ScopeSet.Has.
func ParseRequiredScope(s string) (Scope, error) {
	if err := ValidateRequiredScope(s); err != nil {
		return Scope{}, err
	}
	res, act, _ := strings.Cut(s, ":")
	return Scope{Resource: res, Action: act, text: s}, nil
}

// String returns the scope as "resource:action".
func (s Scope) String() string { return s.text }

// ScopeSet is the compiled set of scopes granted to a key. Lookups do not
// allocate. A ScopeSet is read-only after NewScopeSet and safe for
// concurrent use.
type ScopeSet struct {
	exact      map[string]struct{}
	anyAction  map[string]struct{} // resources granted as "resource:*"
	anyRes     map[string]struct{} // actions granted as "*:action"
	everything bool                // "*:*"
}

// NewScopeSet compiles granted scopes, which must already be valid.
func NewScopeSet(scopes []string) ScopeSet {
	set := ScopeSet{
		exact:     make(map[string]struct{}),
		anyAction: make(map[string]struct{}),
		anyRes:    make(map[string]struct{}),
	}
	for _, s := range scopes {
		res, act, _ := strings.Cut(s, ":")
		switch {
		case res == "*" && act == "*":
			set.everything = true
		case act == "*":
			set.anyAction[res] = struct{}{}
		case res == "*":
			set.anyRes[act] = struct{}{}
		default:
			set.exact[s] = struct{}{}
		}
	}
	return set
}

// Has reports whether the set grants the required scope.
func (set ScopeSet) Has(s Scope) bool {
	if set.everything {
		return true
	}
	if _, ok := set.exact[s.text]; ok {
		return true
	}
	if _, ok := set.anyAction[s.Resource]; ok {
		return true
	}
	_, ok := set.anyRes[s.Action]
	return ok
}

// HasAll reports whether the set grants every required scope. It returns
// the first missing scope when it does not.
func (set ScopeSet) HasAll(required []Scope) (missing Scope, ok bool) {
	for _, s := range required {
		if !set.Has(s) {
			return s, false
		}
	}
	return Scope{}, true
}
