//! The adapters: the ports on the AWS SDK ([`route53`], [`route53domains`],
//! [`stepfunctions`], with [`accounts`] reaching each account) and on the wire
//! ([`wire_dns`]).

pub mod accounts;
pub mod dynamodb;
pub mod memory;
pub mod parent_zone;
pub mod route53;
pub mod route53domains;
pub mod stepfunctions;
pub mod wire_dns;
