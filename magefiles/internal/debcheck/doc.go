// Package debcheck proves at build time that the offline packages shipped in
// packages/ install on top of the base system without a network, so that a
// missing dependency stops the build instead of the installation at a
// customer's site.
//
// It works on plain values and never reads the environment:
//
//   - ReadBase picks the manifests (casper/*.manifest) of the packages that
//     the base ISO's default install source puts on the disk, from
//     casper/install-sources.yaml when the ISO has one, and reads them into
//     a Base.
//   - ReadDeb, ReadDebFile and ReadDebDir read the control data of .deb
//     files (ar archive, control.tar.{gz,xz,zst}) and check the whole archive
//     (a truncated or corrupt file is refused with its name).
//   - Check resolves every package against the base and the other packages
//     with Debian's rules (Depends and Pre-Depends with alternatives, version
//     relations, Provides, architecture qualifiers, Conflicts and Breaks)
//     and returns a Plan, or every problem it found, one a line (Problems).
//   - Resolve does ReadBase and Check in one call, and nothing when there
//     are no .debs; ReadBaseFiles reads the casper files from an extracted
//     tree.
//
// The tests compare every verdict with apt-get's own resolver, run as
// scripts/install.sh runs it.
//
// Control fields, dependency relations and versions are parsed and compared
// by pault.ag/go/debian; this package adds the resolution.
package debcheck
