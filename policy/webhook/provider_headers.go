package webhook

import (
	"net/textproto"
	"slices"
)

// ProviderHeaders returns the canonical names of the headers that the fixed
// provider schemes read or sign: signatures, timestamps and delivery ids.
// The generic hmac provider is left out, because a route names its headers.
func ProviderHeaders() []string {
	names := []string{stripeSignatureHeader}
	for _, spec := range providerSpecs {
		names = append(names, spec.signatureHeader, spec.timestampHeader, spec.idHeader, spec.deliveryHeader)
	}
	for _, set := range standardHeaderSets {
		names = append(names, set.id.key, set.timestamp.key, set.signature.key)
	}

	canonical := names[:0]
	for _, name := range names {
		if name != "" {
			canonical = append(canonical, textproto.CanonicalMIMEHeaderKey(name))
		}
	}
	slices.Sort(canonical)
	return slices.Compact(canonical)
}
