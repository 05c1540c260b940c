package review

import (
	"strconv"
	"testing"

	"github.com/awra/awragate/policy/audit"
)

// BenchmarkDeploymentMapCached maps events whose method, host and path
// repeat, as in real traffic: after the first, each is a cache hit.
func BenchmarkDeploymentMapCached(b *testing.B) {
	d := loadFixture(b)
	ev := &audit.Event{Module: audit.ModuleAPIKey, Method: "GET", Host: "api.example.com:8443", Path: "/api/inventory/items"}
	b.ReportAllocs()
	for b.Loop() {
		d.Map(ev)
	}
}

// BenchmarkDeploymentMapUncached maps a new path every time, which
// replays the routing for every handler of the module.
func BenchmarkDeploymentMapUncached(b *testing.B) {
	d := loadFixture(b)
	paths := make([]string, 1024)
	for i := range paths {
		paths[i] = "/api/inventory/items/" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.router.cache = map[string]Mapping{}
		d.Map(&audit.Event{Module: audit.ModuleAPIKey, Method: "GET", Host: "api.example.com:8443", Path: paths[i%len(paths)]})
		i++
	}
}

// BenchmarkUsageObserve adds allowed API key events to the aggregate.
func BenchmarkUsageObserve(b *testing.B) {
	u := NewUsage(loadFixture(b))
	ev := apiEvent("k-inv", "GET", "/api/inventory/items", "203.0.113.7", true)
	b.ReportAllocs()
	for b.Loop() {
		u.Observe(ev)
	}
}
