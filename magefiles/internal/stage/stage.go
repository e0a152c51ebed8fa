// Package stage names the stages of the pipeline. The one list of stages,
// in order and with the work of each, is pipeline.Stages; the Mage targets
// (how far to run) and the settings table (the first stage that reads each
// setting) name a stage by these values. A Name cannot be made from a
// string outside this package, so a misspelt stage does not compile, and
// pipeline's tests check that every name here is a stage of the list.
package stage

// Name is a stage's name, as targets, messages and `mage -h` show it. The
// zero Name is no stage.
type Name struct{ name string }

// String is the name.
func (n Name) String() string { return n.name }

// The stages' names, in pipeline.Stages order.
var (
	Fetch     = Name{"fetch"}
	Extract   = Name{"extract"}
	Customize = Name{"customize"}
	Packages  = Name{"packages"}
	Images    = Name{"images"}
	Pack      = Name{"pack"}
	Verify    = Name{"verify"}
	SBOM      = Name{"sbom"}
	Sign      = Name{"sign"}
	Release   = Name{"release"}
)
