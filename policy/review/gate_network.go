package review

import (
	"fmt"
	"slices"
	"strings"

	"github.com/awra/awragate/policy"
)

// checkIPLimits judges the network limits. Every usable key must allow
// only networks narrower than every address, unless its ip_exception
// gives a reason. Every server that runs awra handlers and trusts proxies
// must have trusted_proxies_strict on and no trusted range covering every
// address. Every webhook route of a provider in p.SourceCIDRProviders
// must set source_cidrs narrower than every address.
func checkIPLimits(d *Deployment, keys KeysInput, p Policy) Gate {
	var fs findingList
	if keys.File != nil {
		for i := range keys.File.Keys {
			k := &keys.File.Keys[i]
			if k.Status != policy.KeyRevoked {
				checkKeyNetworks(&fs, k)
			}
		}
	}
	for _, srv := range d.Servers {
		checkServerProxies(&fs, srv)
	}
	for _, r := range d.WebhookRoutes {
		checkWebhookSources(&fs, r, p)
	}
	return newGate(GateIPLimits, fs)
}

func checkKeyNetworks(fs *findingList, k *policy.KeyRecord) {
	broad := everyAddressNetworks(k.AllowedCIDRs)
	if len(broad) == 0 {
		return
	}
	list := strings.Join(broad, ", ")
	if strings.TrimSpace(k.IPException) == "" {
		fs.add(SeverityFail, "key_network_every_address", k.ID,
			fmt.Sprintf("key '%s' may be used from every address (%s) without an ip_exception: list the networks its clients use, or record the reason with --ip-exception", k.ID, list))
		return
	}
	fs.add(SeverityWarn, "key_network_exception", k.ID,
		fmt.Sprintf("key '%s' may be used from every address (%s) by exception: %s", k.ID, list, truncateText(k.IPException, 200)))
}

func checkServerProxies(fs *findingList, srv Server) {
	if srv.AwraRoutes == 0 {
		return
	}
	if srv.TrustedProxySource == "" {
		fs.add(SeverityInfo, "trusted_proxies_none", srv.Name,
			fmt.Sprintf("server '%s' trusts no proxy, so the client IP is always the TCP peer and X-Forwarded-For is ignored", srv.Name))
		return
	}

	if srv.TrustedProxiesStrict {
		fs.add(SeverityInfo, "trusted_proxies_checked", srv.Name,
			fmt.Sprintf("server '%s' trusts proxies from the '%s' source (%s) with trusted_proxies_strict on", srv.Name, srv.TrustedProxySource, strings.Join(srv.TrustedProxyRanges, ", ")))
	} else {
		fs.add(SeverityFail, "trusted_proxies_strict_off", srv.Name,
			fmt.Sprintf("server '%s' trusts proxies without trusted_proxies_strict, so a client can put an allowed address at the left of X-Forwarded-For: turn trusted_proxies_strict on", srv.Name))
	}
	if srv.TrustedProxySource != "static" {
		fs.add(SeverityWarn, "trusted_proxies_unchecked", srv.Name,
			fmt.Sprintf("server '%s' takes trusted proxies from the '%s' source, whose ranges the review cannot see", srv.Name, srv.TrustedProxySource))
		return
	}
	for _, r := range srv.TrustedProxyRanges {
		prefix, ok := parseRange(r)
		switch {
		case !ok:
			fs.add(SeverityWarn, "trusted_proxy_range_unreadable", srv.Name,
				fmt.Sprintf("server '%s': trusted proxy range '%s' is not a CIDR or address the review can read", srv.Name, truncateText(r, 80)))
		case prefix.Bits() == 0:
			fs.add(SeverityFail, "trusted_proxy_every_address", srv.Name,
				fmt.Sprintf("server '%s' trusts every address as a proxy (%s), so any client can choose its client IP: list only your proxies' ranges", srv.Name, r))
		}
	}
}

func checkWebhookSources(fs *findingList, r WebhookRoute, p Policy) {
	publishes := slices.Contains(p.SourceCIDRProviders, r.Provider)
	if len(r.SourceCIDRs) == 0 {
		if publishes {
			fs.add(SeverityFail, "webhook_source_cidrs_missing", r.Label,
				fmt.Sprintf("webhook route '%s' for %s accepts deliveries from any address, but %s publishes its sending addresses: set source_cidrs to them", r.Label, r.Provider, r.Provider))
		} else {
			fs.add(SeverityInfo, "webhook_source_cidrs_none", r.Label,
				fmt.Sprintf("webhook route '%s' for %s has no source_cidrs; the review does not treat %s as publishing its sending addresses", r.Label, r.Provider, r.Provider))
		}
		return
	}
	fs.add(SeverityInfo, "webhook_source_cidrs_set", r.Label,
		fmt.Sprintf("webhook route '%s' for %s accepts deliveries only from %s", r.Label, r.Provider, strings.Join(r.SourceCIDRs, ", ")))
	for _, c := range r.SourceCIDRs {
		if prefix, ok := parseRange(c); ok && prefix.Bits() == 0 {
			fs.add(SeverityFail, "webhook_source_cidrs_every_address", r.Label,
				fmt.Sprintf("webhook route '%s' lists every address (%s) in source_cidrs: list only the provider's sending addresses", r.Label, c))
		}
	}
}
