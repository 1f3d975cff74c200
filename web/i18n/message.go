package i18n

import (
	"errors"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/password"
)

// FormFields are the fields of the recording and account forms, by the
// JSON names the API and domain errors use; each has a "field." message.
var FormFields = []string{
	"fiscal_year", "province", "source", "project", "category", "amount",
	"effective_date", "decision", "voucher", "beneficiary", "reason",
	"project_name", "implementing_unit", "counterpart", "idempotency_key",
	"transfer_kind", "to_fiscal_year", "to_province", "to_source",
	"name", "password", "role", "provinces", "sources",
}

// Field returns the label of a form field, by its JSON name.
func (l *Localizer) Field(name string) string { return l.T("field." + name) }

// Error returns the sentence that tells a user why err refused their
// request: by the rule of a password.PolicyError, else by the code of the
// first *domain.Error in its chain (CodeInternal's for any other error).
// It never shows err's own text, which is English and may hold details
// meant for logs.
func (l *Localizer) Error(err error) string {
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		return l.T("password."+string(pe.Rule), N("min", password.MinChars), N("max", password.MaxBytes))
	}
	return l.Code(domain.ErrorCode(err))
}

// Code returns the sentence for an error code.
func (l *Localizer) Code(c domain.Code) string { return l.T("error." + string(c)) }
