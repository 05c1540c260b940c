// Package review implements the security review of an awragate
// deployment: it judges the running configuration, the key registry and
// the audit stream against five gates, derives least-privilege changes
// from observed use, renders the report and seals the evidence package.
//
// The package imports nothing from Caddy. It reads the configuration as
// the JSON that Caddy's adapters produce (see ParseDeployment), takes the
// review time as a parameter, and renders the same report for the same
// inputs, except for the generation time. Every list in the output is
// sorted. No secret, token or token hash is written to any output: secrets
// named by the configuration are resolved only to measure their length.
//
// Functions and types are not safe for concurrent use unless their
// documentation says so.
package review
