// Package testdb gives each test its own freshly migrated PostgreSQL database
// on a throwaway cluster shared by the test binary.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { testdb.Main(m) }
//
// and in a test: st := testdb.New(t). Set BRIDGE_TEST_DATABASE_URL to an admin
// URL of an existing server to use it instead of a throwaway cluster.
package testdb

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/adshares/dsp-bridge/pglocal"
	"github.com/adshares/dsp-bridge/store"
)

const templateDB = "bridge_template"

var (
	once     sync.Once
	cluster  *pglocal.Cluster
	adminURL string
	initErr  error
	counter  atomic.Int64
)

// Main runs the tests and stops the shared cluster afterwards.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	os.Exit(code)
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adminURL = os.Getenv("BRIDGE_TEST_DATABASE_URL")
	if adminURL == "" {
		cluster, initErr = pglocal.Start(ctx, pglocal.Options{Fast: true})
		if initErr != nil {
			return
		}
		adminURL = cluster.URL("postgres")
	}
	initErr = createTemplate(ctx)
}

// createTemplate builds a migrated database that every test database copies.
func createTemplate(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("%s_%d", templateDB, os.Getpid())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return err
	}
	st, err := store.Open(ctx, withDB(adminURL, name), 2)
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.Migrate(ctx)
	return err
}

// withDB replaces the database name of a postgres URL.
func withDB(url, db string) string {
	base, query, _ := strings.Cut(url, "?")
	i := strings.LastIndex(base, "/")
	out := base[:i+1] + db
	if query != "" {
		out += "?" + query
	}
	return out
}

// URL creates a fresh, migrated database for this test and returns its URL.
// The database is dropped when the test ends.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(setup)
	if initErr != nil {
		t.Fatalf("testdb: %v", initErr)
	}
	ctx := context.Background()
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), counter.Add(1))
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer conn.Close(ctx)
	tmpl := fmt.Sprintf("%s_%d", templateDB, os.Getpid())
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		t.Fatalf("testdb: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return withDB(adminURL, name)
}

// New returns a Store on a fresh, migrated database, closed when the test ends.
func New(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), URL(t), 20)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

// NewCluster starts a dedicated throwaway cluster for tests that stop and
// restart PostgreSQL. It is removed when the test ends.
func NewCluster(t testing.TB) *pglocal.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := pglocal.Start(ctx, pglocal.Options{Fast: true})
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(c.Stop)
	return c
}
