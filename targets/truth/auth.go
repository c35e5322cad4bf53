package truth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequireBearer wraps h (a Log, mounted at GET /debug/recalls) so that it answers only requests
// carrying `Authorization: Bearer secret`, compared in constant time; every other request gets
// 401 with a Bearer challenge. Ground truth says which credentials were recalled and when: it is
// for the harness, which holds the stack's admin secret, not for whoever reaches the port. An
// empty secret refuses every request.
func RequireBearer(secret string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(secret))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if secret == "" || !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="recall-debug"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"unauthorized","error_description":"admin bearer secret required"}` + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
