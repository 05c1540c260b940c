// Command mkkey writes a keys file containing one fresh API key for the
// load benchmark, and writes that key's token to a separate file. It prints
// neither the token nor its hash, so the secret never reaches a log.
// bench/run.sh uses it when the awragate binary has no `keys create`
// subcommand.
//
//	mkkey -keys-file DIR/keys.json -token-file DIR/token [-id bench]
//	      [-scopes inventory:read] [-cidrs 127.0.0.1/32,::1/128] [-expires-in 24h]
//
// Both files are created with mode 0600 and must not exist yet.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/awra/awragate/policy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkkey:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkkey", flag.ContinueOnError)
	keysFile := fs.String("keys-file", "", "path of the keys file to create (required)")
	tokenFile := fs.String("token-file", "", "path of the file that receives the token (required)")
	id := fs.String("id", "bench", "key id")
	scopes := fs.String("scopes", "inventory:read", "comma-separated scopes granted to the key")
	cidrs := fs.String("cidrs", "127.0.0.1/32,::1/128", "comma-separated networks the key may be used from")
	expiresIn := fs.Duration("expires-in", 24*time.Hour, "key lifetime from now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keysFile == "" || *tokenFile == "" {
		return errors.New("-keys-file and -token-file are required: give the paths of two files to create")
	}
	if *expiresIn <= 0 {
		return fmt.Errorf("invalid -expires-in '%s': use a positive duration such as 24h", *expiresIn)
	}

	token, err := policy.NewToken(*id)
	if err != nil {
		return err
	}

	now := time.Now().UTC().Truncate(time.Second)
	expires := now.Add(*expiresIn)
	f := policy.KeysFile{
		Version: policy.KeysFileVersion,
		Keys: []policy.KeyRecord{{
			ID:           *id,
			Description:  "load benchmark key, created by bench/cmd/mkkey",
			Owner:        "bench",
			Scopes:       strings.Split(*scopes, ","),
			AllowedCIDRs: strings.Split(*cidrs, ","),
			CreatedAt:    now,
			ExpiresAt:    &expires,
			Status:       policy.KeyActive,
			Secrets: []policy.SecretHash{{
				Hash:      policy.FormatHash(policy.HashToken(token)),
				CreatedAt: now,
			}},
		}},
	}

	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding keys file: %w", err)
	}
	data = append(data, '\n')

	// Parse the result back the way the gateway will, so that a schema
	// change fails here rather than when the gateway loads the file.
	if _, err := policy.ParseKeysFile(data); err != nil {
		return err
	}

	if err := writeNew(*keysFile, data); err != nil {
		return err
	}
	return writeNew(*tokenFile, []byte(token+"\n"))
}

// writeNew creates path with mode 0600 and fails if it already exists.
func writeNew(path string, data []byte) error {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating '%s': %w; choose a path that does not exist yet", path, err)
	}
	if _, err := out.Write(data); err != nil {
		out.Close()
		return fmt.Errorf("writing '%s': %w", path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("writing '%s': %w", path, err)
	}
	return nil
}
