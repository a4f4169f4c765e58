// Package ads holds the Adshares primitives the bridge needs: account
// addresses, the click money unit and request signatures.
package ads

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var addressPattern = regexp.MustCompile(`^([0-9A-Fa-f]{4})-([0-9A-Fa-f]{8})-([0-9A-Fa-f]{4})$`)

// ValidateAddress checks an ADS account address "NNNN-UUUUUUUU-XXXX": the
// format and the CRC-16 checksum over node and user. The checksum must be
// uppercase, as the AdServer compares the configured string exactly.
func ValidateAddress(addr string) error {
	m := addressPattern.FindStringSubmatch(addr)
	if m == nil {
		return fmt.Errorf("ADS address %q is not of the form NNNN-UUUUUUUU-XXXX (hex)", addr)
	}
	want := AddressChecksum(m[1], m[2])
	if m[3] != want {
		if strings.EqualFold(m[3], want) {
			return fmt.Errorf("ADS address %q: checksum must be uppercase (%s)", addr, want)
		}
		return fmt.Errorf("ADS address %q: bad checksum %s", addr, m[3])
	}
	return nil
}

// AddressChecksum returns the 4 uppercase hex digits of the checksum of a
// node (4 hex) and user (8 hex) pair: CRC-16/AUG-CCITT (poly 0x1021, init
// 0x1D0F) over their 6 bytes.
func AddressChecksum(node, user string) string {
	n, _ := strconv.ParseUint(node, 16, 16)
	u, _ := strconv.ParseUint(user, 16, 32)
	data := []byte{byte(n >> 8), byte(n), byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)}
	return fmt.Sprintf("%04X", crc16(data))
}

func crc16(data []byte) uint16 {
	crc := uint16(0x1D0F)
	for _, b := range data {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
