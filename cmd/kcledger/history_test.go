package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/kcledger/kcledger/projections/export"
)

func TestBeancountAccountPart(t *testing.T) {
	for in, want := range map[string]string{
		"HTX Gốm Bát Tràng":      "HTX-Gom-Bat-Trang",
		`HTX Gốm "Bát Tràng"`:    "HTX-Gom-Bat-Trang",
		"Đặng Thị Ánh":           "Dang-Thi-Anh",
		"công ty cổ phần 3/2":    "Cong-ty-co-phan-3-2",
		"1 Thành viên":           "B1-Thanh-vien",
		"":                       "Unnamed",
		"  ***  ":                "Unnamed",
		"Cơ sở CNNT Nguyễn Huệ ": "Co-so-CNNT-Nguyen-Hue",
	} {
		assert.Equal(t, want, export.AccountSlug(in), "%q", in)
		assert.Regexp(t, "^"+want+"-[0-9a-f]{12}$", export.AccountPart(in), "%q: the slug and a hash of the name", in)
	}
}
