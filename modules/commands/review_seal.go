package commands

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"github.com/awra/awragate/policy/review"
)

// runReviewKeygen writes a signing key pair and prints where it went.
func runReviewKeygen(stdout io.Writer, prefix string) (int, error) {
	if prefix == "" {
		return reviewExitUsage, usagef("--out is missing: give the path prefix of the key files, for example --out review-signing")
	}
	keyPath, pubPath, err := review.WriteKeyPair(prefix, rand.Reader)
	if err != nil {
		return reviewExitFail, err
	}
	pubData, err := os.ReadFile(pubPath)
	if err != nil {
		return reviewExitFail, err
	}
	pub, err := review.ParsePublicKey(pubData)
	if err != nil {
		return reviewExitFail, err
	}
	fmt.Fprintf(stdout, "private key: %s (mode 0600; keep it secret)\npublic key: %s\nfingerprint (SHA-256): %s\n", keyPath, pubPath, review.KeyFingerprint(pub))
	fmt.Fprintf(stdout, "seal a review with: AWRA_REVIEW_SIGNING_KEY=\"$(cat %s)\" awragate review --signing-key-env AWRA_REVIEW_SIGNING_KEY ...\n", keyPath)
	return reviewExitPass, nil
}

// runReviewVerify checks a sealed review directory and prints each
// problem on its own line.
func runReviewVerify(stdout io.Writer, dir, publicKeyPath string) (int, error) {
	if publicKeyPath == "" {
		return reviewExitUsage, usagef("--public-key is missing: give the .pub file written by 'awragate review keygen'")
	}
	data, err := os.ReadFile(publicKeyPath)
	if err != nil {
		return reviewExitUsage, usagef("reading --public-key: %w", err)
	}
	pub, err := review.ParsePublicKey(data)
	if err != nil {
		return reviewExitUsage, usagef("--public-key '%s': %w", publicKeyPath, err)
	}

	problems, verified, err := review.VerifySeal(dir, pub)
	if err != nil {
		return reviewExitUsage, usagef("%w", err)
	}
	if len(problems) == 0 {
		fmt.Fprintf(stdout, "verified: %d files match the signed manifest of %s\n", verified, dir)
		return reviewExitPass, nil
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "FAILED %s\n", p)
	}
	return reviewExitFail, fmt.Errorf("verification of review package '%s' failed with %d problems, the first %s; the package is not the one that was sealed", dir, len(problems), problems[0])
}
