package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kcledger/kcledger/domain"
	webapi "github.com/kcledger/kcledger/web/api"
)

// adminTokenFile is the file, in the data directory, where serve writes the
// first admin's token. Only its owner may read it.
const adminTokenFile = "admin.token"

// firstAdmin is the name of the account serve creates on first start.
const firstAdmin = "admin"

// ensureAdmin creates the first admin account when there is no enabled
// admin, and writes its token to dataDir/admin.token, readable only by its
// owner. Several processes starting at once create at most one: the store
// refuses a second account of the same name.
func ensureAdmin(ctx context.Context, accounts webapi.AccountStore, dataDir string, now time.Time, log *slog.Logger) error {
	ok, err := accounts.HasAdmin(ctx)
	if err != nil || ok {
		return err
	}
	secret, hash := domain.NewSecret()
	a := domain.Account{Name: firstAdmin, Role: domain.RoleAdmin, TokenHash: hash, CreatedAt: now, CreatedBy: "kcledger serve (first start)"}
	if err := accounts.Create(ctx, a); err != nil {
		if errors.Is(err, domain.ErrAccountExists) {
			// Another process made it, or it exists disabled: an admin
			// must then be restored by hand (SECURITY.md).
			log.Warn("no enabled admin account, and the name is taken; see SECURITY.md, 'Lost admin token'", "account", firstAdmin)
			return nil
		}
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dataDir, adminTokenFile)
	if err := writeSecretFile(path, domain.Token(firstAdmin, secret)); err != nil {
		return fmt.Errorf("writing the admin token: %w", err)
	}
	log.Info("created the first admin account; its token is in a file only you can read", "account", firstAdmin, "token_file", path)
	return nil
}

// writeSecretFile replaces path with secret, mode 0600, never readable by
// others even for a moment.
func writeSecretFile(path, secret string) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
