// Package iso drives xorriso for the remaster: Extract reads the few files
// that change out of the base ISO and records its boot equipment, Pack maps
// the customized files and the payload into a copy of the base and writes
// the installer ISO, and the report helpers read El Torito and System Area
// descriptions back. Nothing is mounted and nothing needs root.
package iso
