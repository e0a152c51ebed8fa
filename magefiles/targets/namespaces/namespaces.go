// Package namespaces holds the Mage namespaces whose names equal a target's
// (fetch:recheck beside fetch, release:rollback beside release). Go does not
// allow a type and a function of the same name in one package.
package namespaces
