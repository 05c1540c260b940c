// Command fixedload sends a fixed number of GET requests to one URL over a
// few keep-alive connections, the way wrk does: no User-Agent and no
// Accept-Encoding, only the headers given with -H. bench/instructions.sh
// uses it, because counting instructions per request needs an exact
// request count, and wrk runs for a time.
//
//	fixedload -url URL [-n 10000] [-c 8] [-H 'Name: value' | -H @FILE]...
//
// @FILE reads one "Name: value" header per line, so that a credential
// stays off the command line. It exits 1 when any response is not 200.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fixedload:", err)
		os.Exit(1)
	}
}

// headerFlags collects the -H values.
type headerFlags []string

func (h *headerFlags) String() string     { return strings.Join(*h, ", ") }
func (h *headerFlags) Set(v string) error { *h = append(*h, v); return nil }

func run(args []string) error {
	fs := flag.NewFlagSet("fixedload", flag.ContinueOnError)
	url := fs.String("url", "", "URL to request")
	count := fs.Int("n", 10000, "number of requests")
	conns := fs.Int("c", 8, "number of connections")
	var headerArgs headerFlags
	fs.Var(&headerArgs, "H", "header 'Name: value', or @FILE with one header per line; repeatable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("-url is missing: give the URL to request, such as -url http://127.0.0.1:8080/")
	}
	if *count < 1 || *conns < 1 {
		return fmt.Errorf("invalid -n %d or -c %d: use whole numbers of at least 1", *count, *conns)
	}
	header, err := parseHeaders(headerArgs)
	if err != nil {
		return err
	}
	// Without this entry net/http adds its own User-Agent.
	if _, ok := header["User-Agent"]; !ok {
		header["User-Agent"] = []string{""}
	}

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: *conns,
		DisableCompression:  true,
	}}
	var (
		left       atomic.Int64
		failed     atomic.Int64
		firstError atomic.Value
		wg         sync.WaitGroup
	)
	left.Store(int64(*count))
	for range *conns {
		wg.Go(func() {
			own := header.Clone()
			for left.Add(-1) >= 0 {
				if err := send(client, *url, own); err != nil {
					failed.Add(1)
					firstError.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d requests failed; the first: %s", n, *count, firstError.Load())
	}
	return nil
}

// send makes one request and reads the whole response.
func send(client *http.Client, url string, header http.Header) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header = header
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d, expected 200", res.StatusCode)
	}
	return nil
}

// parseHeaders turns the -H values into a header, reading @FILE values
// line by line.
func parseHeaders(values []string) (http.Header, error) {
	header := http.Header{}
	for _, v := range values {
		lines := []string{v}
		if file, ok := strings.CutPrefix(v, "@"); ok {
			var err error
			if lines, err = readLines(file); err != nil {
				return nil, err
			}
		}
		for _, line := range lines {
			name, value, ok := strings.Cut(line, ":")
			if !ok || strings.TrimSpace(name) == "" {
				return nil, fmt.Errorf("invalid header in -H %s: use 'Name: value'", describe(v))
			}
			header.Add(textproto.TrimString(name), textproto.TrimString(value))
		}
	}
	return header, nil
}

// describe names a -H value in an error by its header name or file only,
// because the value may be a credential.
func describe(v string) string {
	if strings.HasPrefix(v, "@") {
		return v
	}
	name, _, _ := strings.Cut(v, ":")
	return "'" + name + ": ...'"
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading headers: %w", err)
	}
	defer f.Close()
	var lines []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if line := strings.TrimSpace(scanner.Text()); line != "" {
			lines = append(lines, line)
		}
	}
	return lines, scanner.Err()
}
