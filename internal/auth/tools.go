package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/davnas/davnas/internal/storage"
)

// roleFields renders the optional :role[:root] suffix of a file line.
func roleFields(readOnly bool, root string) (string, error) {
	if root != "" {
		clean, err := storage.Clean(root)
		if err != nil {
			return "", fmt.Errorf("root %q: %v", root, err)
		}
		root = clean
		if root == "." {
			root = ""
		}
	}
	role := "rw"
	if readOnly {
		role = "ro"
	}
	switch {
	case root != "":
		return ":" + role + ":" + root, nil
	case readOnly:
		return ":" + role, nil
	}
	return "", nil
}

// PasswdLine returns the auth-file line for a user (davnas passwd).
func PasswdLine(name, password string, readOnly bool, root string) (string, error) {
	if name == "" || strings.ContainsAny(name, ":\n") {
		return "", fmt.Errorf("user name %q: must be non-empty, without ':'", name)
	}
	if password == "" {
		return "", fmt.Errorf("empty password")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", err
	}
	suffix, err := roleFields(readOnly, root)
	if err != nil {
		return "", err
	}
	return name + ":" + string(hash) + suffix, nil
}

// NewToken returns a random bearer token and its token-file line, which
// holds only the token's SHA-256 (davnas token).
func NewToken(name string, readOnly bool, root string) (tok, line string, err error) {
	if name == "" || strings.ContainsAny(name, ":\n") {
		return "", "", fmt.Errorf("token name %q: must be non-empty, without ':'", name)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	tok = base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(tok))
	suffix, err := roleFields(readOnly, root)
	if err != nil {
		return "", "", err
	}
	return tok, name + ":sha256:" + hex.EncodeToString(sum[:]) + suffix, nil
}

// cost is the bcrypt cost of new hashes (a variable so tests run fast).
var cost = bcrypt.DefaultCost
