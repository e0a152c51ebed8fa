package debcheck

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"testing"
)

// scenario is a packages/ directory: some of the specs, and the problems
// Check must report (each a full line, in order), none meaning it passes.
type scenario struct {
	name     string
	debs     []string
	problems []string
	// aptAccepts says why apt's resolver accepts what Check refuses (see
	// TestCheckAgreesWithApt).
	aptAccepts string
}

var scenarios = []scenario{
	{name: "chain a -> b -> c on the base", debs: []string{"chain-a", "chain-b", "chain-c"}},
	{name: "chain whose last link needs what nobody has", debs: []string{"bchain-a", "bchain-b", "bchain-c"},
		problems: []string{"packages/bchain-c_1.0_all.deb (required by bchain-a -> bchain-b): Depends libmissing9: neither the base system nor packages/ has libmissing9"}},
	{name: "chain with a link missing", debs: []string{"chain-a", "chain-c"},
		problems: []string{"packages/chain-a_1.0_amd64.deb: Depends chain-b: neither the base system nor packages/ has chain-b"}},
	{name: "alternative satisfied by its second choice", debs: []string{"alt"}},
	{name: "no alternative satisfied", debs: []string{"alt-none"},
		problems: []string{"packages/alt-none_1_all.deb: Depends libnotthere | libfoo1 (>= 3): libnotthere: neither the base system nor packages/ has libnotthere; libfoo1 (>= 3): the base system has libfoo1:amd64 2.0-1 (casper/ubuntu-server-minimal.manifest) and packages/ has none"}},
	{name: "versioned dependencies the base satisfies", debs: []string{"vok"}},
	{name: "versioned dependency the base does not satisfy", debs: []string{"novasphere-agent"},
		problems: []string{"packages/novasphere-agent_1.2.0_amd64.deb: Depends libfoo1 (>= 2.1): the base system has libfoo1:amd64 2.0-1 (casper/ubuntu-server-minimal.manifest) and packages/ has none"}},
	{name: "newer version shipped in packages/ upgrades the base", debs: []string{"novasphere-agent", "libfoo1-new"}},
	{name: "older version than the base is a downgrade", debs: []string{"libfoo1-old"},
		problems: []string{"packages/libfoo1_1.9-1_amd64.deb: libfoo1 1.9-1 is older than the base system's libfoo1:amd64 2.0-1 (casper/ubuntu-server-minimal.manifest): apt-get refuses to downgrade; ship 2.0-1 or newer, or leave it out"}},
	{name: "the epoch wins over the upstream version", debs: []string{"epoch-user"}},
	{name: "an epoch 0 package older than the base's epoch 1", debs: []string{"libbar2-low"},
		problems: []string{"packages/libbar2_9.0-1_amd64.deb: libbar2 9.0-1 is older than the base system's libbar2:amd64 1:1.0-1 (casper/ubuntu-server-minimal.manifest): apt-get refuses to downgrade; ship 1:1.0-1 or newer, or leave it out"}},
	{name: "epoch upgrade", debs: []string{"libbar2-new", "epoch-user"}},
	{name: "~ sorts before the release", debs: []string{"tilde-user"},
		problems: []string{"packages/tilde-user_1_all.deb: Depends libbaz1 (>= 1.0): the base system has libbaz1:amd64 1.0~rc1-1 (casper/ubuntu-server-minimal.manifest) and packages/ has none"}},
	{name: "~ in the relation", debs: []string{"tilde-ok"}},
	{name: "Pre-Depends", debs: []string{"pre", "pre-ok"},
		problems: []string{"packages/pre_1_all.deb: Pre-Depends libmissing8: neither the base system nor packages/ has libmissing8"}},
	{name: "virtual package provided in packages/", debs: []string{"mta-user", "tiny-mta"}},
	{name: "virtual package nobody provides", debs: []string{"mta-user"},
		problems: []string{"packages/mta-user_1_all.deb: Depends mail-transport-agent: neither the base system nor packages/ has mail-transport-agent"}},
	{name: "versioned dependency on an unversioned Provides", debs: []string{"mta-user-v", "tiny-mta"},
		problems: []string{"packages/mta-user-v_1_all.deb: Depends mail-transport-agent (>= 1): neither the base system nor packages/ has mail-transport-agent; packages/tiny-mta_0.5_amd64.deb provides mail-transport-agent without a version, which a versioned dependency cannot use"}},
	{name: "versioned Provides", debs: []string{"abi-user", "abi-provider"}},
	{name: "versioned Provides too old", debs: []string{"abi-user3", "abi-provider"},
		problems: []string{"packages/abi-user3_1_amd64.deb: Depends foo-abi (>= 3): neither the base system nor packages/ has foo-abi; packages/abi-provider_7_amd64.deb provides foo-abi (= 2.1)"}},
	{name: "virtual package of the base (mawk provides awk)", debs: []string{"awk-user"}},
	{name: "Provides + Conflicts of the same virtual package alone", debs: []string{"mta-alt", "mta-user"}},
	{name: "two providers of a virtual package one of them conflicts with", debs: []string{"mta-alt", "tiny-mta"},
		problems: []string{"packages/mta-alt_1_amd64.deb: Conflicts mail-transport-agent: packages/tiny-mta_0.5_amd64.deb provides mail-transport-agent"}},
	{name: "Conflicts with the base", debs: []string{"conf-base"},
		problems: []string{"packages/conf-base_1_all.deb: Conflicts vim-tiny: the base system has vim-tiny 2:8.2.3995-1ubuntu2.12 (casper/ubuntu-server-minimal.ubuntu-server.manifest); apt would remove it"}},
	{name: "Breaks an older version than the base layers install", debs: []string{"breaks-old"}},
	{name: "Breaks the base", debs: []string{"breaks-base"},
		problems: []string{"packages/breaks-base_1_all.deb: Breaks vim (<< 3:0): the base system has vim 2:8.2.3995-1ubuntu2.12 (casper/ubuntu-server-minimal.ubuntu-server.manifest); apt would remove it"}},
	{name: "Breaks the base's version, which packages/ upgrades", debs: []string{"breaks-foo", "libfoo1-new"}},
	{name: "Breaks the base's version", debs: []string{"breaks-foo"},
		problems: []string{"packages/breaks-foo_1_all.deb: Breaks libfoo1 (<< 2.2): the base system has libfoo1:amd64 2.0-1 (casper/ubuntu-server-minimal.manifest); apt would remove it"}},
	{name: "Conflicts between packages", debs: []string{"c1", "c2"},
		problems: []string{"packages/c1_1_all.deb: Conflicts c2: packages/ has c2 1 (packages/c2_1_all.deb)"}},
	{name: "i386 package", debs: []string{"ia32"},
		problems:   []string{"packages/ia32_1_i386.deb: Architecture i386: the installed system is amd64; only amd64 and all packages install"},
		aptAccepts: "dpkg"},
	{name: ":any on the base", debs: []string{"any-user"}},
	{name: ":any needs Multi-Arch: allowed", debs: []string{"any-noma", "helper-noma"},
		problems: []string{"packages/any-noma_1_amd64.deb: Depends helper-noma:any: the base system has none and packages/ has helper-noma 1, but packages/helper-noma_1_amd64.deb is not Multi-Arch: allowed, which :any needs"}},
	{name: ":any and Multi-Arch: allowed", debs: []string{"any-ma", "helper-ma"}},
	{name: "architecture qualifiers", debs: []string{"q-amd64", "q-i386"},
		problems: []string{"packages/q-i386_1_amd64.deb: Depends libc6:i386: the base system has libc6:amd64 2.35-0ubuntu3.1 (casper/ubuntu-server-minimal.manifest) and packages/ has none"}},
	{name: "two versions of one package", debs: []string{"dup-1", "dup-2"},
		problems:   []string{"packages/dup_2.0_all.deb: packages/ has 2 versions of dup: packages/dup_1.0_all.deb (1.0 all), packages/dup_2.0_all.deb (2.0 all); keep one"},
		aptAccepts: "apt installs the highest version and ignores the other file"},
	{name: "removed by the server layer", debs: []string{"needs-removed"},
		problems: []string{"packages/needs-removed_1_all.deb: Depends libremoved1: neither the base system nor packages/ has libremoved1"}},
	{name: "only in the installer's layers", debs: []string{"needs-installer"},
		problems: []string{"packages/needs-installer_1_all.deb: Depends subiquity-only: neither the base system nor packages/ has subiquity-only"}},
}

func TestCheckScenarios(t *testing.T) {
	base := fixtureBase(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			plan, err := Check(base, readSpecs(t, sc.debs...))
			var got []string
			if err != nil {
				var p Problems
				if !errors.As(err, &p) {
					t.Fatalf("error is not Problems: %v", err)
				}
				got = p
			}
			if strings.Join(got, "\n") != strings.Join(sc.problems, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(sc.problems, "\n"))
			}
			if err == nil && len(plan.Packages) != len(sc.debs) {
				t.Errorf("plan has %d packages, want %d", len(plan.Packages), len(sc.debs))
			}
		})
	}
}

// TestCheckReportsEveryProblem: one packages/ with many faults gets them
// all, one a line, not only the first.
func TestCheckReportsEveryProblem(t *testing.T) {
	// Failing scenarios whose packages do not touch each other's names.
	names := []string{
		"chain whose last link needs what nobody has", "no alternative satisfied",
		"versioned dependency the base does not satisfy", "an epoch 0 package older than the base's epoch 1",
		"~ sorts before the release", "Pre-Depends", "versioned dependency on an unversioned Provides",
		"Conflicts with the base", "Breaks the base", "Conflicts between packages", "i386 package",
		":any needs Multi-Arch: allowed", "architecture qualifiers", "two versions of one package",
		"removed by the server layer", "only in the installer's layers",
	}
	var debs, want []string
	for _, n := range names {
		sc := findScenario(t, n)
		debs = append(debs, sc.debs...)
		want = append(want, sc.problems...)
	}
	_, err := Check(fixtureBase(t), readSpecs(t, debs...))
	var got Problems
	if !errors.As(err, &got) {
		t.Fatalf("got %v, want Problems", err)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%d problems:\n%s\nwant %d:\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
}

func findScenario(t *testing.T, name string) scenario {
	t.Helper()
	for _, sc := range scenarios {
		if sc.name == name {
			return sc
		}
	}
	t.Fatalf("no scenario %q", name)
	return scenario{}
}

func TestPlanNamesWhatSatisfiesEachDependency(t *testing.T) {
	debs := readSpecs(t, "chain-a", "chain-b", "chain-c", "alt", "mta-user", "tiny-mta", "awk-user", "libfoo1-new", "novasphere-agent", "pre-ok")
	plan, err := Check(fixtureBase(t), debs)
	if err != nil {
		t.Fatal(err)
	}
	byPkg := map[string]PlannedPackage{}
	for _, p := range plan.Packages {
		byPkg[p.Package] = p
	}
	dep := func(pkg string, i int) string {
		p, ok := byPkg[pkg]
		if !ok || i >= len(p.Dependencies) {
			t.Fatalf("no dependency %d of %s in %+v", i, pkg, p)
		}
		d := p.Dependencies[i]
		return d.Field + " " + d.Relation + " <- " + d.SatisfiedBy.String()
	}
	for _, c := range []struct{ got, want string }{
		{dep("chain-a", 0), "Depends chain-b <- packages/chain-b_1.0_all.deb"},
		{dep("chain-b", 0), "Depends chain-c (>= 1.0) <- packages/chain-c_1.0-2_amd64.deb"},
		{dep("chain-c", 0), "Depends libc6 (>= 2.34) <- base libc6 2.35-0ubuntu3.1 (casper/ubuntu-server-minimal.manifest)"},
		{dep("alt", 0), "Depends libnotthere | libfoo1 (>= 2.0) <- packages/libfoo1_2.2-1_amd64.deb"},
		{dep("mta-user", 0), "Depends mail-transport-agent <- packages/tiny-mta_0.5_amd64.deb providing mail-transport-agent"},
		{dep("awk-user", 0), "Depends awk <- base mawk 1.3.4.20200120-3 (casper/ubuntu-server-minimal.manifest) providing awk"},
		{dep("novasphere-agent", 0), "Depends libfoo1 (>= 2.1) <- packages/libfoo1_2.2-1_amd64.deb"},
		{dep("pre-ok", 0), "Pre-Depends adduser (= 3.118ubuntu5) <- base adduser 3.118ubuntu5 (casper/ubuntu-server-minimal.manifest)"},
		{byPkg["libfoo1"].Base, "upgrades 2.0-1 (casper/ubuntu-server-minimal.manifest)"},
	} {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	chainC := byPkg["chain-c"]
	if chainC.SHA256 != debs[2].SHA256 || chainC.File != "packages/chain-c_1.0-2_amd64.deb" || chainC.Version != "1.0-2" {
		t.Errorf("chain-c in the plan: %+v", chainC)
	}
	// The plan goes into JSON records and comes back the same.
	raw, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	var back Plan
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back.Packages[0].Dependencies[0].SatisfiedBy != plan.Packages[0].Dependencies[0].SatisfiedBy || back.Base.Packages != 11 {
		t.Errorf("JSON round trip lost data: %s", raw)
	}
	for _, key := range []string{`"satisfied_by"`, `"sha256"`, `"manifests"`, `"via":"mail-transport-agent"`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("plan JSON has no %s: %s", key, raw)
		}
	}
	if s := plan.Summary(); !strings.HasPrefix(s, "10 package(s) install offline on 11 base packages") {
		t.Errorf("Summary: %s", s)
	}
}

func TestCheckRefusesBadControlData(t *testing.T) {
	base := fixtureBase(t)
	cases := []struct {
		deb  Deb
		want string
	}{
		{Deb{File: "packages/a.deb", Package: "aa", Version: "1", Architecture: "all", Depends: "${shlibs:Depends}, libc6"},
			"packages/a.deb: control file: Depends \"${shlibs:Depends}, libc6\": unsubstituted variable ${shlibs:Depends}"},
		{Deb{File: "packages/b.deb", Package: "bb", Version: "one", Architecture: "all"},
			"packages/b.deb: control file: Version \"one\": version number does not start with digit"},
		{Deb{File: "packages/c.deb", Package: "cc", Version: "1", Architecture: "all", Provides: "xx | yy"},
			"packages/c.deb: control file: Provides \"xx | yy\": alternatives (xx | yy) are not allowed in Provides"},
		{Deb{File: "packages/d.deb", Package: "dd", Version: "1", Architecture: "all", Depends: "libc6 (>= 2.3 4)"},
			"packages/d.deb: control file: Depends \"libc6 (>= 2.3 4)\": libc6: version \"2.3 4\": version string has embedded spaces"},
	}
	for _, c := range cases {
		_, err := Check(base, []Deb{c.deb})
		if err == nil || err.Error() != c.want {
			t.Errorf("got  %v\nwant %s", err, c.want)
		}
	}
}

func TestCheckNothingToInstall(t *testing.T) {
	plan, err := Check(fixtureBase(t), nil)
	if err != nil || len(plan.Packages) != 0 || plan.Base.Packages != 11 {
		t.Errorf("got %+v, %v", plan, err)
	}
}

// TestCheckForeignBasePackages: a base with i386 packages (dpkg
// --add-architecture i386): they satisfy only :i386 relations, and an
// unqualified Conflicts matches them too.
func TestCheckForeignBasePackages(t *testing.T) {
	base, err := ReadBase([]File{{Path: "casper/filesystem.manifest", Data: []byte("libc6:amd64\t2.35-0ubuntu3.1\nlibold:i386\t1.0\n")}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		deb  Deb
		want string
	}{
		{Deb{File: "packages/a.deb", Package: "aa", Version: "1", Architecture: "amd64", Depends: "libold:i386 (>= 1.0), libc6:amd64"}, ""},
		{Deb{File: "packages/b.deb", Package: "bb", Version: "1", Architecture: "amd64", Depends: "libold"},
			"packages/b.deb: Depends libold: the base system has libold:i386 1.0 (casper/filesystem.manifest) and packages/ has none"},
		{Deb{File: "packages/c.deb", Package: "cc", Version: "1", Architecture: "all", Conflicts: "libold"},
			"packages/c.deb: Conflicts libold: the base system has libold:i386 1.0 (casper/filesystem.manifest); apt would remove it"},
		{Deb{File: "packages/d.deb", Package: "dd", Version: "1", Architecture: "all", Conflicts: "libold:amd64"}, ""},
	}
	for _, c := range cases {
		_, err := Check(base, []Deb{c.deb})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s:\ngot  %s\nwant %s", c.deb.File, got, c.want)
		}
	}
}
