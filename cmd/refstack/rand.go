package main

import (
	"crypto/rand"
	"encoding/hex"
)

// randomHex returns 32 random bytes in hex: a secret nobody guesses.
func randomHex() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
