package scenario

import (
	"fmt"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// Clients is tokens.clients: a count (the reference issuer registers that many clients) or a
// list of existing clients of your provider.
type Clients struct {
	// Count is how many clients the reference issuer registers; 0 when List is set.
	Count int
	// List names existing clients.
	List []ClientAccount
}

// ClientAccount is an existing OAuth 2.0 client the drill authenticates as.
type ClientAccount struct {
	// ID is the client_id. Required.
	ID string `yaml:"id" json:"id" jsonschema:"required,example=drill-a"`
	// Secret is the client secret (client_secret_basic, client_secret_post); use ${VAR}.
	Secret string `yaml:"secret,omitempty" json:"secret,omitempty" jsonschema:"example=${DRILL_A_SECRET}"`
	// Auth is the client authentication: client_secret_basic, client_secret_post,
	// private_key_jwt (RFC 7523, with key_file) or none. Default client_secret_basic when a
	// secret is set, none otherwise.
	Auth string `yaml:"auth,omitempty" json:"auth,omitempty"`
	// KeyFile is the private key (PEM, or a private JWK) for private_key_jwt.
	KeyFile string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	// KeyID is the kid of the assertion's header for private_key_jwt (default: the JWK's).
	KeyID string `yaml:"key_id,omitempty" json:"key_id,omitempty"`
	// Scope is requested with this client's tokens. Default tokens.scope.
	Scope string `yaml:"scope,omitempty" json:"scope,omitempty"`
}

// ClientAuths lists the valid values of a client's auth.
var ClientAuths = []string{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"}

// Users is tokens.users: a count (the reference issuer registers that many users), a list of
// existing users, or {file: users.csv} with lines username,password[,totp_secret].
type Users struct {
	// Count is how many users the reference issuer registers; 0 when List or File is set.
	Count int
	// List names existing users.
	List []UserAccount
	// File is a CSV file of username,password[,totp_secret], relative to the scenario.
	File string
}

// UserAccount is an existing resource owner for the password grant.
type UserAccount struct {
	// Username is required.
	Username string `yaml:"username" json:"username" jsonschema:"required"`
	// Password is the user's password; use ${VAR}.
	Password string `yaml:"password,omitempty" json:"password,omitempty"`
	// TOTP is the user's TOTP secret (base32), when the provider asks for a one-time code.
	TOTP string `yaml:"totp,omitempty" json:"totp,omitempty"`
}

// usersFile is the mapping form of tokens.users.
type usersFile struct {
	// File is the CSV file.
	File string `yaml:"file" json:"file"`
}

var (
	clientsType    = reflect.TypeOf(Clients{})
	usersType      = reflect.TypeOf(Users{})
	intType        = reflect.TypeOf(0)
	clientListType = reflect.TypeOf([]ClientAccount{})
	userListType   = reflect.TypeOf([]UserAccount{})
	usersFileType  = reflect.TypeOf(usersFile{})
)

// walkAccounts checks tokens.clients or tokens.users: a count, a list, or (users) {file:}.
func (l *loader) walkAccounts(n *yaml.Node, t reflect.Type, path string) {
	switch {
	case n.Kind == yaml.ScalarNode:
		l.walk(n, intType, path)
	case n.Kind == yaml.SequenceNode && t == clientsType:
		l.walk(n, clientListType, path)
	case n.Kind == yaml.SequenceNode:
		l.walk(n, userListType, path)
	case n.Kind == yaml.MappingNode && t == usersType:
		l.walk(n, usersFileType, path)
	default:
		what := "a count or a list of clients"
		if t == usersType {
			what = "a count, a list of users or {file: users.csv}"
		}
		l.reject(n, path, "want %s, got %s", what, describe(n))
	}
}

// IsList reports whether the clients are existing ones.
func (c Clients) IsList() bool { return len(c.List) > 0 }

// IsList reports whether the users are existing ones (a list or a file).
func (u Users) IsList() bool { return len(u.List) > 0 || u.File != "" }

// UnmarshalYAML implements yaml.Unmarshaler: a count or a list.
func (c *Clients) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		c.Count = 0
		return n.Decode(&c.List)
	}
	return n.Decode(&c.Count)
}

// MarshalYAML implements yaml.Marshaler.
func (c Clients) MarshalYAML() (any, error) {
	if c.IsList() {
		return c.List, nil
	}
	return c.Count, nil
}

// UnmarshalYAML implements yaml.Unmarshaler: a count, a list or {file:}.
func (u *Users) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		u.Count = 0
		return n.Decode(&u.List)
	case yaml.MappingNode:
		var f usersFile
		if err := n.Decode(&f); err != nil {
			return err
		}
		u.Count, u.File = 0, f.File
		return nil
	case yaml.ScalarNode:
		return n.Decode(&u.Count)
	}
	return fmt.Errorf("tokens.users: want a count, a list or {file: users.csv}")
}

// MarshalYAML implements yaml.Marshaler.
func (u Users) MarshalYAML() (any, error) {
	switch {
	case u.File != "":
		return usersFile{File: u.File}, nil
	case len(u.List) > 0:
		return u.List, nil
	}
	return u.Count, nil
}
