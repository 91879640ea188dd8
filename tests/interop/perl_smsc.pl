#!/usr/bin/perl
# A small SMSC built on Perl's Net::SMPP (Debian package libnet-smpp-perl), used by the interop tests of our
# ESME link. Usage: perl perl_smsc.pl [PORT]   (0 or nothing: any free port)
# Prints "LISTENING <port>", then one line per event: "EVENT key=value ...". Serves connections one at a
# time. Accepts binds for system_id "interop" / password "secret"; answers submit_sm with a decimal message
# id and, when registered_delivery asks for it, sends a receipt as deliver_sm (text and TLVs).
use strict;
use warnings;
use Net::SMPP;
use POSIX qw(strftime);

$| = 1;
my $port = shift // 0;
my $listener = Net::SMPP->new_listen('127.0.0.1', port => $port, smpp_version => 0x34)
    or die "cannot listen: $!";
print "LISTENING ", $listener->sockport, "\n";
alarm 120;    # bounded life

my $next_id = 700000;
while (my $conn = $listener->accept) {
    serve($conn);
}

sub serve {
    my ($c) = @_;
    while (my $pdu = $c->read_pdu) {
        my $cmd = $pdu->{cmd};
        if ($cmd == Net::SMPP::CMD_bind_transceiver || $cmd == Net::SMPP::CMD_bind_transmitter
            || $cmd == Net::SMPP::CMD_bind_receiver) {
            my $ok = ($pdu->{system_id} // '') eq 'interop' && ($pdu->{password} // '') eq 'secret';
            my $resp = $cmd == Net::SMPP::CMD_bind_transceiver ? 'bind_transceiver_resp'
                     : $cmd == Net::SMPP::CMD_bind_transmitter ? 'bind_transmitter_resp'
                     : 'bind_receiver_resp';
            $c->$resp(seq => $pdu->{seq}, system_id => 'perlsmsc', status => ($ok ? 0 : 0x0D));
            print $ok ? "EVENT bind system_id=$pdu->{system_id}\n" : "EVENT bind_refused\n";
            return unless $ok;
        } elsif ($cmd == Net::SMPP::CMD_submit_sm) {
            my $id = $next_id++;
            $c->submit_sm_resp(seq => $pdu->{seq}, message_id => "$id");
            my $text = $pdu->{short_message} // '';
            print "EVENT submit_sm message_id=$id source_addr=$pdu->{source_addr} "
                . "destination_addr=$pdu->{destination_addr} data_coding=$pdu->{data_coding} "
                . "text_hex=" . unpack('H*', $text) . "\n";
            if (($pdu->{registered_delivery} // 0) & 3) {
                my $date = strftime('%y%m%d%H%M', gmtime);
                my $receipt = "id:$id sub:001 dlvrd:001 submit date:$date done date:$date stat:DELIVRD err:000 text:"
                    . substr($text, 0, 20);
                $c->deliver_sm(
                    source_addr => $pdu->{destination_addr},
                    destination_addr => $pdu->{source_addr},
                    esm_class => 0x04,
                    short_message => $receipt,
                    receipted_message_id => "$id\0",
                    message_state => pack('C', 2),
                    async => 1,
                );
                print "EVENT receipt_sent message_id=$id\n";
            }
        } elsif ($cmd == Net::SMPP::CMD_deliver_sm_resp) {
            print "EVENT deliver_sm_resp status=$pdu->{status}\n";
        } elsif ($cmd == Net::SMPP::CMD_enquire_link) {
            $c->enquire_link_resp(seq => $pdu->{seq});
            print "EVENT enquire_link\n";
        } elsif ($cmd == Net::SMPP::CMD_unbind) {
            $c->unbind_resp(seq => $pdu->{seq});
            print "EVENT unbind\n";
            return;
        } else {
            $c->generic_nack(seq => $pdu->{seq}, status => 3);
            printf "EVENT generic_nack cmd=0x%08x\n", $cmd;
        }
    }
}
